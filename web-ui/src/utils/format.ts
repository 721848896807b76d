const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/** `2026-11-01 14:03:05` in the browser's time zone; '-' for empty values. */
export function formatDateTime(value: string | null | undefined): string {
  if (!value) return '-'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return value
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** An ISO time with offset shown as written (the task's local wall time): `2026-03-29 03:00:00 +02:00`. */
export function formatLocalIso(value: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?$/.exec(value)
  if (!m) return value
  const offset = !m[3] || m[3] === 'Z' ? '+00:00' : m[3]
  return `${m[1]} ${m[2]} ${offset}`
}

/** Milliseconds as `850 ms`, `12.4 s`, `3 min 5 s`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '-'
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  if (Math.abs(s) < 60) return `${s.toFixed(1)} s`
  const minutes = Math.floor(s / 60)
  return `${minutes} min ${Math.round(s - minutes * 60)} s`
}

export function formatPercent(rate: number | null | undefined, digits = 1): string {
  if (rate === null || rate === undefined) return '-'
  return `${(rate * 100).toFixed(digits)}%`
}

export interface YearMonth {
  year: number
  month: number
}

export function currentMonth(now = new Date()): YearMonth {
  return { year: now.getFullYear(), month: now.getMonth() + 1 }
}

/** `YYYY-MM` for Element Plus month pickers (value-format="YYYY-MM"). */
export function monthKey(ym: YearMonth): string {
  return `${ym.year}-${pad(ym.month)}`
}

export function parseMonthKey(key: string | null | undefined): YearMonth | null {
  const m = /^(\d{4})-(\d{2})$/.exec(key ?? '')
  if (!m) return null
  const month = Number(m[2])
  return month >= 1 && month <= 12 ? { year: Number(m[1]), month } : null
}

/** IANA zones offered in the task form; the server validates against its own tz database. */
export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] }
  const zones = intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : []
  return zones.includes('UTC') ? zones : ['UTC', ...zones]
}

export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
  } catch {
    return 'UTC'
  }
}
