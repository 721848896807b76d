import { enableAutoUnmount, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { i18n, setLocale } from '@/i18n'
import DailyChart from '../DailyChart.vue'
import DonutChart from '../DonutChart.vue'

enableAutoUnmount(afterEach)

const days = [
  { date: '2026-03-01', total: 5, success: 3, failed: 1 },
  { date: '2026-03-02', total: 0, success: 0, failed: 0 },
  { date: '2026-03-03', total: 10, success: 6, failed: 4 },
]
const zeros = days.map((d) => ({ ...d, total: 0, success: 0, failed: 0 }))
const slices = [
  { key: 'success', label: 'Success', value: 3, color: 'var(--el-color-success)' },
  { key: 'failed', label: 'Failed', value: 1, color: 'var(--el-color-danger)' },
  { key: 'killed', label: 'Killed', value: 0, color: 'var(--el-color-warning)' },
]
const mountDaily = (props: { days: typeof days | null }) => mount(DailyChart, { props, global: { plugins: [i18n] } })
const mountDonut = (s: typeof slices | null) =>
  mount(DonutChart, { props: { slices: s, title: 'By status', centerLabel: 'Executions' }, global: { plugins: [i18n] } })

describe('DailyChart', () => {
  beforeEach(async () => {
    await setLocale('en')
  })

  it('draws a group per day, bars for the days with executions, the total line and a summary', () => {
    const wrapper = mountDaily({ days })
    const svg = wrapper.get('svg')
    expect(svg.attributes('role')).toBe('img')
    expect(svg.attributes('aria-label')).toBe(
      'Executions per day from 2026-03-01 to 2026-03-03: 15 in all, 9 succeeded, 5 failed; the busiest day was 2026-03-03 with 10.',
    )
    const groups = wrapper.findAll('[data-testid="chart-day"]')
    expect(groups.map((g) => g.attributes('data-date'))).toEqual(['2026-03-01', '2026-03-02', '2026-03-03'])
    expect(groups.map((g) => g.findAll('rect').length)).toEqual([2, 0, 2])
    expect(groups.map((g) => g.find('text').text())).toEqual(['01', '02', '03'])
    expect(wrapper.find('path.total-line').attributes('d')).toMatch(/^M[\d.]+,[\d.]+L/)
    expect(wrapper.find('[data-testid="chart-empty"]').exists()).toBe(false)
    expect(wrapper.text()).toContain('Succeeded')
  })

  it('shows a day’s figures from the keyboard, and hides a series from the legend', async () => {
    const wrapper = mountDaily({ days })
    await wrapper.get('svg').trigger('keydown', { key: 'End' })
    const tip = wrapper.get('[data-testid="chart-tooltip"]')
    expect(tip.text()).toContain('2026-03-03')
    expect(tip.text()).toContain('Total10')
    expect(tip.text()).toContain('Failed4')
    expect(tip.text()).toContain('60.0%')
    await wrapper.get('svg').trigger('keydown', { key: 'ArrowLeft' })
    expect(wrapper.get('[data-testid="chart-tooltip"]').text()).toContain('2026-03-02')
    await wrapper.get('svg').trigger('keydown', { key: 'Escape' })
    expect(wrapper.find('[data-testid="chart-tooltip"]').exists()).toBe(false)

    await wrapper.get('[data-testid="chart-legend-failed"]').trigger('click')
    expect(wrapper.get('[data-testid="chart-legend-failed"]').attributes('aria-pressed')).toBe('false')
    expect(wrapper.findAll('rect[data-series="failed"]')).toHaveLength(0)
    expect(wrapper.findAll('rect[data-series="success"]')).toHaveLength(2)
    await wrapper.get('[data-testid="chart-legend-total"]').trigger('click')
    expect(wrapper.find('path.total-line').exists()).toBe(false)
  })

  it('says so for a month without executions, draws nothing before the data', async () => {
    const empty = mountDaily({ days: zeros })
    expect(empty.findAll('[data-testid="chart-day"]')).toHaveLength(3)
    expect(empty.findAll('rect[data-series]')).toHaveLength(0)
    expect(empty.get('[data-testid="chart-empty"]').text()).toBe('No executions')
    expect(empty.get('svg').attributes('aria-label')).toBe('Executions per day from 2026-03-01 to 2026-03-03: none.')
    expect(mountDaily({ days: null }).find('svg').exists()).toBe(false)
    await setLocale('zh-CN')
    const zh = mountDaily({ days })
    expect(zh.get('svg').attributes('aria-label')).toContain('共 15 次，成功 9 次，失败 5 次')
    expect(zh.text()).toContain('成功')
  })
})

describe('DonutChart', () => {
  beforeEach(async () => {
    await setLocale('en')
  })

  it('a sector and a legend entry per part with executions, the total (or the hovered part) in the hole', async () => {
    const wrapper = mountDonut(slices)
    expect(wrapper.findAll('path.slice').map((p) => p.attributes('data-slice'))).toEqual(['success', 'failed'])
    expect(wrapper.findAll('.legend-item').map((li) => li.text())).toEqual(['Success375.0%', 'Failed125.0%'])
    expect(wrapper.get('.center-value').text()).toBe('4')
    expect(wrapper.get('svg').attributes('aria-label')).toBe('By status: 4 in all; Success 3 (75.0%), Failed 1 (25.0%).')
    await wrapper.findAll('.legend-item')[1]?.trigger('pointerenter')
    expect(wrapper.get('.center-value').text()).toBe('1')
    expect(wrapper.get('.center-label').text()).toBe('Failed')
    expect(wrapper.get('[data-testid="chart-tooltip"]').text()).toBe('25.0%')
    expect(wrapper.get('path.slice[data-slice="failed"]').classes()).toContain('active')
    await wrapper.findAll('.legend-item')[1]?.trigger('pointerleave')
    expect(wrapper.get('.center-value').text()).toBe('4')
    await wrapper.get('path.slice[data-slice="success"]').trigger('pointerenter')
    expect(wrapper.get('.center-label').text()).toBe('Success')
  })

  it('an empty ring without executions, nothing before the data', () => {
    const empty = mountDonut(slices.map((s) => ({ ...s, value: 0 })))
    expect(empty.findAll('path.slice')).toHaveLength(0)
    expect(empty.find('circle.empty-ring').exists()).toBe(true)
    expect(empty.get('[data-testid="chart-empty"]').text()).toBe('No executions')
    expect(empty.get('svg').attributes('aria-label')).toBe('By status: no executions.')
    expect(mountDonut(null).find('svg').exists()).toBe(false)
  })
})
