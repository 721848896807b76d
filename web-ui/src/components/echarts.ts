/**
 * The part of ECharts the console draws with, registered per chart type (echarts/core + the charts and
 * components in use, canvas renderer): the dashboard's executions per day (line + stacked bars, legend, axis
 * tooltip) and executions by status (pie). Loaded on demand by EChart.vue, so a page shows its figures while
 * the library (about 180 KiB gzip, of which echarts/core alone is 100) is still on its way.
 */
import { BarChart, LineChart, PieChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components'
import { init, use } from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'

use([LineChart, BarChart, PieChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer])

export { init }
