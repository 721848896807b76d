import { describe, expect, it, vi } from 'vitest'
import type { DailyStat, RecordStats } from '@/api/types'
import { monthKey, type YearMonth } from '@/utils/format'
import { addDays, localDate, monthsOf, recentWindows, summarize } from '../recentWindows'
import { loadRecentFigures, statsWarnings } from '../useDashboard'

/** A month's daily series as `/records/stats` gives it: every day, `counts[date] = [success, failed, total]`. */
function month(ym: YearMonth, counts: Record<string, [number, number, number]> = {}, warning?: string): RecordStats {
  const days = new Date(Date.UTC(ym.year, ym.month, 0)).getUTCDate()
  const daily: DailyStat[] = []
  for (let d = 1; d <= days; d += 1) {
    const date = `${monthKey(ym)}-${String(d).padStart(2, '0')}`
    const [success, failed, total] = counts[date] ?? [0, 0, 0]
    daily.push({ date, success, failed, total })
  }
  return {
    ...ym, total: 0, successCount: 0, failCount: 0, runningCount: 0, killedCount: 0, skippedCount: 0, lostCount: 0,
    successRate: null, avgCostTime: null, p95CostTime: null, daily, topFailingTasks: [], timeZone: 'UTC', ...(warning ? { warning } : {}),
  }
}

describe('day arithmetic', () => {
  it('takes "today" in the given zone', () => {
    const instant = new Date('2026-03-01T02:30:00Z')
    expect(localDate(instant, 'UTC')).toBe('2026-03-01')
    expect(localDate(instant, 'America/New_York')).toBe('2026-02-28')
    expect(localDate(new Date('2026-12-31T20:00:00Z'), 'Asia/Shanghai')).toBe('2027-01-01')
  })

  it('moves by calendar days across months, years and leap days', () => {
    expect(addDays('2026-03-04', -6)).toBe('2026-02-26')
    expect(addDays('2024-03-02', -6)).toBe('2024-02-25')
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29')
    expect(addDays('2026-01-03', -6)).toBe('2025-12-28')
    expect(addDays('2026-03-29', 1)).toBe('2026-03-30') // a DST day is one day like any other
  })

  it('the 7 days end today; a window crossing a month start needs the previous month too', () => {
    expect(recentWindows('2026-03-15')).toEqual({
      today: { from: '2026-03-15', to: '2026-03-15' },
      week: { from: '2026-03-09', to: '2026-03-15' },
    })
    expect(monthsOf(recentWindows('2026-03-07').week)).toEqual([{ year: 2026, month: 3 }])
    expect(monthsOf(recentWindows('2026-03-06').week)).toEqual([{ year: 2026, month: 3 }, { year: 2026, month: 2 }])
    expect(monthsOf(recentWindows('2026-01-02').week)).toEqual([{ year: 2026, month: 1 }, { year: 2025, month: 12 }])
  })

  it('adds up the days of the window; the rate is succeeded / (succeeded + failed)', () => {
    const march = month({ year: 2026, month: 3 }, {
      '2026-03-08': [100, 100, 200], // the day before the window
      '2026-03-09': [3, 1, 5],
      '2026-03-14': [4, 0, 4],
      '2026-03-15': [1, 1, 3],
      '2026-03-16': [50, 0, 50], // after today (a running record scheduled later, say)
    })
    const { today, week } = recentWindows('2026-03-15')
    expect(summarize(march.daily, today)).toEqual({ ...today, succeeded: 1, failed: 1, executions: 3, successRate: 0.5 })
    expect(summarize(march.daily, week)).toEqual({ ...week, succeeded: 8, failed: 2, executions: 12, successRate: 0.8 })
    expect(summarize(month({ year: 2026, month: 3 }).daily, today).successRate).toBeNull()
  })
})

describe('loadRecentFigures', () => {
  it('asks for today\'s month only when the 7 days stay in it', async () => {
    const fetchStats = vi.fn(async (ym: YearMonth) => month(ym, { '2026-03-10': [2, 2, 4] }))
    const { figures } = await loadRecentFigures('2026-03-10', fetchStats)
    expect(fetchStats).toHaveBeenCalledTimes(1)
    expect(fetchStats).toHaveBeenCalledWith({ year: 2026, month: 3 })
    expect(figures.today).toMatchObject({ succeeded: 2, failed: 2, successRate: 0.5 })
    expect(figures.week).toMatchObject({ from: '2026-03-04', to: '2026-03-10', succeeded: 2, failed: 2 })
  })

  it('adds the previous month\'s last days when the window reaches into it', async () => {
    const answers: Record<string, RecordStats> = {
      '2026-03': month({ year: 2026, month: 3 }, { '2026-03-01': [1, 0, 1], '2026-03-02': [0, 1, 1] }),
      '2026-02': month({ year: 2026, month: 2 }, { '2026-02-23': [9, 9, 18], '2026-02-24': [5, 0, 5], '2026-02-28': [2, 1, 3] }),
    }
    const fetchStats = vi.fn(async (ym: YearMonth) => answers[monthKey(ym)]!)
    const { figures, answers: used } = await loadRecentFigures('2026-03-02', fetchStats)
    expect(fetchStats.mock.calls.map(([ym]) => monthKey(ym))).toEqual(['2026-03', '2026-02'])
    expect(used.map((a) => monthKey(a))).toEqual(['2026-03', '2026-02'])
    expect(figures.today).toMatchObject({ from: '2026-03-02', succeeded: 0, failed: 1, successRate: 0 })
    // 2026-02-24 .. 2026-03-02: the 23rd is outside.
    expect(figures.week).toMatchObject({ from: '2026-02-24', succeeded: 8, failed: 2, executions: 10, successRate: 0.8 })
  })

  it('reuses an answer (or a request under way) it is given', async () => {
    const fetchStats = vi.fn(async (ym: YearMonth) => month(ym))
    const known = new Map([['2026-03', Promise.resolve(month({ year: 2026, month: 3 }, { '2026-03-02': [1, 0, 1] }))]])
    const { figures } = await loadRecentFigures('2026-03-02', fetchStats, known)
    expect(fetchStats.mock.calls.map(([ym]) => monthKey(ym))).toEqual(['2026-02'])
    expect(figures.today.succeeded).toBe(1)
  })
})

describe('statsWarnings', () => {
  it('lists each month with a warning once, oldest first', () => {
    const warn = 'the rollups of this month are not built yet'
    expect(statsWarnings([
      month({ year: 2026, month: 3 }, {}, warn), null, month({ year: 2026, month: 2 }, {}, warn),
      month({ year: 2026, month: 3 }, {}, warn), month({ year: 2026, month: 1 }),
    ])).toEqual([{ month: '2026-02', text: warn }, { month: '2026-03', text: warn }])
    expect(statsWarnings([month({ year: 2026, month: 3 })])).toEqual([])
  })
})
