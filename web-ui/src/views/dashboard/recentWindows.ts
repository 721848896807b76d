import type { DailyStat } from '@/api/types'
import type { YearMonth } from '@/utils/format'

/** The "last days" window: today and the days before it, whole local days. */
export const WINDOW_DAYS = 7

/** Inclusive range of local dates (`YYYY-MM-DD`). */
export interface DayWindow {
  from: string
  to: string
}

export interface WindowSummary extends DayWindow {
  succeeded: number
  failed: number
  /** Every execution of those days (running, killed, skipped and lost included). */
  executions: number
  /** succeeded / (succeeded + failed), as `/records/stats` computes `successRate`; null while both are 0. */
  successRate: number | null
}

const pad = (n: number) => String(n).padStart(2, '0')

/** `YYYY-MM-DD` of the instant `now` in the IANA zone `zone`. */
export function localDate(now: Date, zone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(now)
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? ''
  return `${part('year')}-${part('month')}-${part('day')}`
}

/** The calendar date `days` after `date` (negative: before); pure date arithmetic, no time zone involved. */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number]
  const moved = new Date(Date.UTC(y, m - 1, d + days))
  return `${moved.getUTCFullYear()}-${pad(moved.getUTCMonth() + 1)}-${pad(moved.getUTCDate())}`
}

export function monthOfDate(date: string): YearMonth {
  return { year: Number(date.slice(0, 4)), month: Number(date.slice(5, 7)) }
}

/** Today, and the last `WINDOW_DAYS` days ending today. */
export function recentWindows(today: string, days = WINDOW_DAYS): { today: DayWindow; week: DayWindow } {
  return { today: { from: today, to: today }, week: { from: addDays(today, 1 - days), to: today } }
}

/** The months whose daily series cover the window, the newest first: one, or two when it crosses a month start. */
export function monthsOf(window: DayWindow): YearMonth[] {
  const last = monthOfDate(window.to)
  const first = monthOfDate(window.from)
  return first.year === last.year && first.month === last.month ? [last] : [last, first]
}

/** Adds up the days of `daily` (one or more months' series, any order) that fall in the window. */
export function summarize(daily: readonly DailyStat[], window: DayWindow): WindowSummary {
  let succeeded = 0
  let failed = 0
  let executions = 0
  for (const day of daily) {
    if (day.date < window.from || day.date > window.to) continue
    succeeded += day.success
    failed += day.failed
    executions += day.total
  }
  const finished = succeeded + failed
  return { ...window, succeeded, failed, executions, successRate: finished ? succeeded / finished : null }
}
