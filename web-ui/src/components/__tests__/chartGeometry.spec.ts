import { describe, expect, it } from 'vitest'
import {
  bandAt,
  bands,
  dailyLayout,
  donutArcs,
  labelEvery,
  linearScale,
  linePath,
  niceStep,
  niceTicks,
  ringSector,
  stack,
  textWidth,
  type DayValues,
} from '../chartGeometry'

function month(values: [number, number, number][]): DayValues[] {
  return values.map(([total, success, failed], i) => ({ date: `2026-03-${String(i + 1).padStart(2, '0')}`, total, success, failed }))
}

describe('ticks and scales', () => {
  it('steps of 1, 2 or 5 × 10^k, never below 1', () => {
    expect(niceStep(0)).toBe(1)
    expect(niceStep(3)).toBe(1)
    expect(niceStep(7)).toBe(2)
    expect(niceStep(23)).toBe(5)
    expect(niceStep(95)).toBe(20)
    expect(niceStep(480)).toBe(100)
    expect(niceStep(12_345)).toBe(5000)
  })

  it('ticks from 0 up to the first step at or above the maximum', () => {
    expect(niceTicks(0)).toEqual([0, 1])
    expect(niceTicks(1)).toEqual([0, 1])
    expect(niceTicks(3)).toEqual([0, 1, 2, 3])
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8])
    expect(niceTicks(23)).toEqual([0, 5, 10, 15, 20, 25])
    expect(niceTicks(100)).toEqual([0, 20, 40, 60, 80, 100])
  })

  it('maps 0..max onto a pixel range, upside down for y', () => {
    const y = linearScale(10, 200, 0)
    expect(y(0)).toBe(200)
    expect(y(10)).toBe(0)
    expect(y(5)).toBe(100)
    expect(linearScale(0, 50, 0)(0)).toBe(50)
  })

  it('cuts a range into bands with centred bars, finds the band under x', () => {
    const laid = bands(4, 100, 500)
    expect(laid.map((b) => b.x)).toEqual([100, 200, 300, 400])
    expect(laid[1]).toMatchObject({ width: 100, center: 250, barWidth: 28, barX: 236 })
    expect(bands(10, 0, 100)[0]?.barWidth).toBeCloseTo(7)
    expect(bands(0, 0, 100)).toEqual([])
    expect(bandAt(99, laid)).toBe(0)
    expect(bandAt(250, laid)).toBe(1)
    expect(bandAt(900, laid)).toBe(3)
    expect(bandAt(10, [])).toBe(-1)
  })

  it('thins out labels that do not fit their band', () => {
    expect(labelEvery(30, 20)).toBe(1)
    expect(labelEvery(12, 20)).toBe(2)
    expect(labelEvery(5, 20)).toBe(4)
    expect(labelEvery(0, 20)).toBe(1)
  })

  it('stacks, draws lines, measures text', () => {
    expect(stack([3, 0, 2])).toEqual([[0, 3], [3, 3], [3, 5]])
    expect(linePath([{ x: 0, y: 10 }, { x: 5.555, y: 2 }])).toBe('M0,10L5.56,2')
    expect(textWidth('10', 10)).toBe(12)
    expect(textWidth('成功', 10)).toBe(20)
  })
})

describe('dailyLayout', () => {
  const days = month([[5, 3, 1], [0, 0, 0], [10, 6, 4]])

  it('lays out one band per day, stacked bars and the total line', () => {
    const layout = dailyLayout(days, { width: 400, height: 200 })
    expect(layout.days).toHaveLength(3)
    expect(layout.ticks.map((t) => t.value)).toEqual([0, 2, 4, 6, 8, 10])
    const { plot } = layout
    expect(layout.ticks[0]?.y).toBe(plot.bottom)
    expect(layout.ticks[5]?.y).toBe(plot.top)
    const [first, empty, third] = layout.days
    // Succeeded at the bottom, failed on top of it; heights proportional to the counts.
    const height = plot.bottom - plot.top
    expect(first?.bars.map((b) => b.series)).toEqual(['success', 'failed'])
    expect(first?.bars[0]?.height).toBeCloseTo((height * 3) / 10, 1)
    expect(first?.bars[0]?.y).toBeCloseTo(plot.bottom - (height * 3) / 10, 1)
    expect(first?.bars[1]?.y).toBeCloseTo(plot.bottom - (height * 4) / 10, 1)
    expect(empty?.bars).toEqual([])
    expect(third?.total.y).toBe(plot.top)
    expect(layout.line.startsWith(`M${first?.total.x},`)).toBe(true)
    expect(layout.line.split('L')).toHaveLength(3)
    expect(layout.days.map((d) => d.label)).toEqual(['01', '02', '03'])
  })

  it('makes room for the widest y label', () => {
    const big = dailyLayout(month([[12_000, 12_000, 0]]), { width: 400, height: 200, fontPx: 10 })
    const small = dailyLayout(month([[3, 3, 0]]), { width: 400, height: 200, fontPx: 10 })
    expect(big.plot.left).toBeGreaterThan(small.plot.left)
    expect(big.plot.left).toBeGreaterThanOrEqual(textWidth('12000', 10))
  })

  it('scales to the series shown', () => {
    const layout = dailyLayout(days, { width: 400, height: 200, shown: new Set(['success']) })
    expect(layout.line).toBe('')
    expect(layout.ticks.at(-1)?.value).toBe(6)
    expect(layout.days[2]?.bars.map((b) => b.series)).toEqual(['success'])
  })

  it('thins the day labels of a narrow month, keeps an axis for an empty one', () => {
    const thirtyOne = month(Array.from({ length: 31 }, () => [0, 0, 0] as [number, number, number]))
    const narrow = dailyLayout(thirtyOne, { width: 320, height: 200 })
    expect(narrow.days).toHaveLength(31)
    const labelled = narrow.days.filter((d) => d.label)
    expect(labelled.length).toBeLessThan(31)
    expect(labelled[0]?.label).toBe('01')
    expect(narrow.ticks.map((t) => t.value)).toEqual([0, 1])
    expect(narrow.days.every((d) => d.bars.length === 0)).toBe(true)
    expect(dailyLayout(thirtyOne, { width: 1200, height: 200 }).days.every((d) => d.label)).toBe(true)
    expect(dailyLayout([], { width: 400, height: 200 })).toMatchObject({ days: [], line: '' })
  })
})

describe('donut', () => {
  it('one sector per positive value, clockwise from 12 o’clock, fractions of the sum', () => {
    const arcs = donutArcs([3, 0, 1], 100, 100, 90, 60)
    expect(arcs.map((a) => a.index)).toEqual([0, 2])
    expect(arcs.map((a) => a.fraction)).toEqual([0.75, 0.25])
    expect(arcs[0]?.start).toBe(0)
    expect(arcs[0]?.end).toBeCloseTo(1.5 * Math.PI)
    expect(arcs[1]?.end).toBeCloseTo(2 * Math.PI)
    // The first arc starts at the top of the outer ring, takes the long way (> 180°) and comes back inside.
    expect(arcs[0]?.path.startsWith('M100,10A90,90 0 1 1 10,100L40,100A60,60 0 1 0 100,40Z')).toBe(true)
    expect(arcs[1]?.path).toContain('A90,90 0 0 1')
  })

  it('nothing for values adding up to 0', () => {
    expect(donutArcs([0, 0], 100, 100, 90, 60)).toEqual([])
    expect(donutArcs([], 100, 100, 90, 60)).toEqual([])
  })

  it('a whole ring for a single value (two half arcs per circle)', () => {
    const [arc] = donutArcs([0, 7], 100, 100, 90, 60)
    expect(arc?.fraction).toBe(1)
    expect(arc?.path).toBe(
      'M100,10A90,90 0 1 1 100,190A90,90 0 1 1 100,10Z' + 'M100,40A60,60 0 1 1 100,160A60,60 0 1 1 100,40Z',
    )
    expect(ringSector(0, 0, 10, 0, 0, Math.PI / 2)).toBe('M0,-10A10,10 0 0 1 10,0L0,0Z')
  })
})
