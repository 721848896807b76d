import { ref } from 'vue'

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

let browserZone: string | null = null

/**
 * The browser's IANA zone, read once per page load: `Intl.DateTimeFormat()` builds a formatter each time (about
 * 0.1 ms), and the time columns asked for it once per row (21 ms of a 100-row task list in a CPU profile).
 */
export function browserTimeZone(): string {
  if (browserZone === null) {
    try {
      browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
    } catch {
      browserZone = 'UTC'
    }
  }
  return browserZone
}

/**
 * The zone the viewer reads times in (issue 20, defect 2): the browser's unless the user chose UTC or the
 * platform's zone in the user menu (stores/platform.ts sets it). A ref, so every rendered time follows a change.
 */
export const viewerZone = ref<string>(browserTimeZone())

interface WallTime {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

const partFormats = new Map<string, Intl.DateTimeFormat>()

/** The wall-clock time of an instant in an IANA zone (null for an unknown zone). */
export function wallTime(date: Date, zone: string): WallTime | null {
  let fmt = partFormats.get(zone)
  if (!fmt) {
    try {
      fmt = new Intl.DateTimeFormat('en-US', {
        timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', second: '2-digit',
      })
    } catch {
      return null
    }
    partFormats.set(zone, fmt)
  }
  const parts: Record<string, number> = {}
  for (const part of fmt.formatToParts(date)) if (part.type !== 'literal') parts[part.type] = Number(part.value)
  return {
    year: parts.year ?? 0, month: parts.month ?? 1, day: parts.day ?? 1,
    hour: (parts.hour ?? 0) % 24, minute: parts.minute ?? 0, second: parts.second ?? 0,
  }
}

/** `UTC+8`, `UTC-3:30`, `UTC` for an instant in a zone (the offset differs across DST). */
export function zoneOffsetLabel(date: Date, zone: string): string {
  const w = wallTime(date, zone)
  if (!w) return zone
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second)
  const minutes = Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60000)
  if (minutes === 0) return 'UTC'
  const sign = minutes > 0 ? '+' : '-'
  const abs = Math.abs(minutes)
  return `UTC${sign}${Math.floor(abs / 60)}${abs % 60 ? `:${pad(abs % 60)}` : ''}`
}

function parse(value: string | null | undefined): Date | null {
  if (!value) return null
  const d = new Date(value)
  return Number.isNaN(d.getTime()) ? null : d
}

/** `2026-11-01 14:03:05` in `zone`, without a label. */
export function formatInZone(value: string | Date, zone: string): string {
  const d = value instanceof Date ? value : parse(value)
  if (!d) return String(value)
  const w = wallTime(d, zone)
  if (!w) return String(value)
  return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`
}

/** `2026-12-05 09:30:00 (Europe/Berlin)`; '-' for empty values. */
export function formatZoned(value: string | null | undefined, zone: string): string {
  if (!value) return '-'
  const d = parse(value)
  return d ? `${formatInZone(d, zone)} (${zone})` : value
}

/**
 * `2026-11-01 14:03:05 UTC+8` in the viewer's zone (the user menu's choice), labelled with its offset;
 * '-' for empty values. Records, audit rows, users... every instant that belongs to no task.
 */
export function formatDateTime(value: string | null | undefined, zone: string = viewerZone.value): string {
  if (!value) return '-'
  const d = parse(value)
  if (!d) return value
  return `${formatInZone(d, zone)} ${zoneOffsetLabel(d, zone)}`
}

/**
 * A task's time (next/last fire, preview): in the task's own zone, with the viewer's zone for the tooltip
 * (null when both zones read the same wall time, e.g. the viewer is in the task's zone).
 */
export function formatTaskTime(
  value: string | null | undefined,
  taskZone: string,
  zone: string = viewerZone.value,
): { text: string; tooltip: string | null } {
  if (!value) return { text: '-', tooltip: null }
  const d = parse(value)
  if (!d) return { text: value, tooltip: null }
  const text = formatZoned(value, taskZone)
  const other = formatInZone(d, zone)
  return { text, tooltip: zone === taskZone || other === formatInZone(d, taskZone) ? null : `${other} (${zone})` }
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
