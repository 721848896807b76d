/**
 * The geometry of the console's two SVG charts (DailyChart.vue, DonutChart.vue): scales, ticks, stacking and
 * arc paths, as plain functions of numbers. The components only render what these return, in pixels of their
 * own size (the SVG's viewBox is its box, so text keeps its size whatever the width).
 */

export interface Margins {
  top: number
  right: number
  bottom: number
  left: number
}

/** A step of 1, 2 or 5 × 10^k (at least 1: counts are whole numbers) giving about `count` intervals up to `max`. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1
  const raw = max / Math.max(1, count)
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude
  return Math.max(1, step)
}

/** Ticks from 0 to the first multiple of the step at or above `max` (0 and 1 when there is nothing). */
export function niceTicks(max: number, count = 5): number[] {
  const step = niceStep(max, count)
  const top = Math.max(step, Math.ceil(max / step) * step)
  const ticks: number[] = []
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v)
  return ticks
}

/** Maps [0, domainMax] onto [rangeFrom, rangeTo] (rangeFrom is the bottom for a y axis: pixels grow downwards). */
export function linearScale(domainMax: number, rangeFrom: number, rangeTo: number): (v: number) => number {
  const span = domainMax > 0 ? domainMax : 1
  return (v) => rangeFrom + ((rangeTo - rangeFrom) * v) / span
}

export interface Band {
  index: number
  /** Left edge and width of the whole band (the hover target). */
  x: number
  width: number
  center: number
  /** Left edge and width of the bar drawn in it. */
  barX: number
  barWidth: number
}

/** `n` equal bands over [from, to]; bars take `1 - gap` of their band (at most `maxBar` px), centred. */
export function bands(n: number, from: number, to: number, gap = 0.3, maxBar = 28): Band[] {
  if (n <= 0) return []
  const width = (to - from) / n
  const barWidth = Math.max(1, Math.min(maxBar, width * (1 - gap)))
  return Array.from({ length: n }, (_, index) => {
    const x = from + index * width
    const center = x + width / 2
    return { index, x, width, center, barX: center - barWidth / 2, barWidth }
  })
}

/** Every how many bands an axis label fits, labels needing `labelPx` each. */
export function labelEvery(bandWidth: number, labelPx: number): number {
  if (!(bandWidth > 0)) return 1
  return Math.max(1, Math.ceil(labelPx / bandWidth))
}

/** [from, to] of each value stacked on the ones before it. */
export function stack(values: readonly number[]): [number, number][] {
  let base = 0
  return values.map((v) => {
    const segment: [number, number] = [base, base + Math.max(0, v)]
    base = segment[1]
    return segment
  })
}

/** An SVG path through the points, in order. */
export function linePath(points: readonly { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${round(p.x)},${round(p.y)}`).join('')
}

/** Rough width in px of a label at `fontPx` (digits and Latin ≈ 0.6 em, CJK ≈ 1 em). */
export function textWidth(text: string, fontPx: number): number {
  let em = 0
  for (const ch of text) em += /[\u2E80-\u9FFF\uFF00-\uFFEF]/.test(ch) ? 1 : 0.6
  return em * fontPx
}

export const round = (v: number): number => Math.round(v * 100) / 100

// --- Executions per day: stacked bars (succeeded, failed) and a line (total) --------------------------------

export interface DayValues {
  date: string
  total: number
  success: number
  failed: number
}

export type DailySeries = 'total' | 'success' | 'failed'

export interface DailyLayout {
  plot: { left: number; top: number; right: number; bottom: number }
  ticks: { value: number; y: number }[]
  days: {
    index: number
    date: string
    /** The x-axis label (the day of the month) or '' where labels are thinned out. */
    label: string
    band: Band
    bars: { series: 'success' | 'failed'; y: number; height: number }[]
    total: { x: number; y: number }
  }[]
  /** The total line ('' when hidden or fewer than one day). */
  line: string
}

export interface DailyOptions {
  width: number
  height: number
  /** Which series are drawn (the legend toggles them); all by default. */
  shown?: ReadonlySet<DailySeries>
  fontPx?: number
  margins?: Partial<Margins>
}

const ALL_DAILY: ReadonlySet<DailySeries> = new Set(['total', 'success', 'failed'])

/** The whole layout of the daily chart in a box of `width` × `height` px. */
export function dailyLayout(days: readonly DayValues[], options: DailyOptions): DailyLayout {
  const shown = options.shown ?? ALL_DAILY
  const fontPx = options.fontPx ?? 11
  const stacked = (d: DayValues) => (shown.has('success') ? d.success : 0) + (shown.has('failed') ? d.failed : 0)
  const max = Math.max(0, ...days.map((d) => Math.max(stacked(d), shown.has('total') ? d.total : 0)))
  const ticks = niceTicks(max)
  const widest = Math.max(...ticks.map((v) => textWidth(String(v), fontPx)))
  const m: Margins = { top: 8, right: 12, bottom: fontPx + 14, left: Math.ceil(widest) + 14, ...options.margins }
  const plot = {
    left: m.left,
    top: m.top,
    right: Math.max(m.left + 1, options.width - m.right),
    bottom: Math.max(m.top + 1, options.height - m.bottom),
  }
  const y = linearScale(ticks[ticks.length - 1] ?? 1, plot.bottom, plot.top)
  const laid = bands(days.length, plot.left, plot.right)
  const every = labelEvery(laid[0]?.width ?? 0, textWidth('00', fontPx) + 6)
  const layoutDays = days.map((d, index) => {
    const band = laid[index] as Band
    const segments = stack([shown.has('success') ? d.success : 0, shown.has('failed') ? d.failed : 0])
    const bars = (['success', 'failed'] as const)
      .map((series, i) => {
        const [from, to] = segments[i] as [number, number]
        return { series, y: round(y(to)), height: round(y(from) - y(to)) }
      })
      .filter((b) => b.height > 0)
    return {
      index,
      date: d.date,
      label: index % every === 0 ? d.date.slice(8) : '',
      band,
      bars,
      total: { x: round(band.center), y: round(y(d.total)) },
    }
  })
  return {
    plot,
    ticks: ticks.map((value) => ({ value, y: round(y(value)) })),
    days: layoutDays,
    line: shown.has('total') ? linePath(layoutDays.map((d) => d.total)) : '',
  }
}

/** The band under x (clamped to the first and last), or -1 without bands. */
export function bandAt(x: number, laid: readonly Band[]): number {
  if (laid.length === 0) return -1
  const first = laid[0] as Band
  const i = Math.floor((x - first.x) / first.width)
  return Math.min(laid.length - 1, Math.max(0, i))
}

// --- Executions by status: a donut ----------------------------------------------------------------------------

export interface Arc {
  index: number
  value: number
  fraction: number
  /** Angles in radians, clockwise from 12 o'clock. */
  start: number
  end: number
  path: string
}

function point(cx: number, cy: number, r: number, angle: number): string {
  return `${round(cx + r * Math.sin(angle))},${round(cy - r * Math.cos(angle))}`
}

/** The path of a ring sector between two angles (clockwise from 12 o'clock); a whole ring for a full turn. */
export function ringSector(cx: number, cy: number, outer: number, inner: number, start: number, end: number): string {
  const sweep = end - start
  if (sweep >= 2 * Math.PI - 1e-9) {
    // A full turn as two half arcs (one arc from a point to itself draws nothing), the hole cut out even-odd.
    const half = (r: number) =>
      `M${point(cx, cy, r, 0)}A${r},${r} 0 1 1 ${point(cx, cy, r, Math.PI)}A${r},${r} 0 1 1 ${point(cx, cy, r, 0)}Z`
    return half(outer) + (inner > 0 ? half(inner) : '')
  }
  const large = sweep > Math.PI ? 1 : 0
  const outerArc = `M${point(cx, cy, outer, start)}A${outer},${outer} 0 ${large} 1 ${point(cx, cy, outer, end)}`
  if (inner <= 0) return `${outerArc}L${round(cx)},${round(cy)}Z`
  return `${outerArc}L${point(cx, cy, inner, end)}A${inner},${inner} 0 ${large} 0 ${point(cx, cy, inner, start)}Z`
}

/** One sector per positive value, in order, clockwise from 12 o'clock; none when the values add up to 0. */
export function donutArcs(values: readonly number[], cx: number, cy: number, outer: number, inner: number): Arc[] {
  const sum = values.reduce((s, v) => s + Math.max(0, v), 0)
  if (!(sum > 0)) return []
  const arcs: Arc[] = []
  let angle = 0
  values.forEach((value, index) => {
    if (!(value > 0)) return
    const fraction = value / sum
    const start = angle
    const end = angle + fraction * 2 * Math.PI
    angle = end
    arcs.push({ index, value, fraction, start, end, path: ringSector(cx, cy, outer, inner, start, end) })
  })
  return arcs
}

