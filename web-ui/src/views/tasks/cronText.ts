/**
 * Cron made readable (issue 20): a plain-language sentence for a DJS schedule, and the visual builder's
 * expression <-> choices mapping.
 *
 * The grammar is the platform's (apps/tasks/schedule.py, docs/cron.md): 5 fields, 6 with seconds first,
 * `?` in day-of-month / day-of-week, the macros, `@every <duration>`, and seed 001's short forms (a bare
 * duration `30s`, a daily time `02:00`). cronstrue describes the field forms; `@every` and the bare duration are
 * worded here. An expression the platform would refuse (7 fields, Quartz L/W/#, out-of-range values) or one
 * whose meaning cronstrue would word differently from DJS (a stepped `*​/2` day field next to a restricted one:
 * DJS then needs both, Vixie's rule) gets no sentence at all: nothing is better than a wrong one.
 */
import cronstrue from 'cronstrue'
import 'cronstrue/locales/zh_CN'

/** The message function of vue-i18n (`t`), as far as this module uses it. */
export type Translate = (key: string, named?: Record<string, unknown>) => string

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']

interface FieldSpec {
  low: number
  high: number // highest value a user may write (7 = Sunday)
  names?: string[]
  nameBase?: number
  question?: boolean
}

const FIELDS: FieldSpec[] = [
  { low: 0, high: 59 }, // second
  { low: 0, high: 59 }, // minute
  { low: 0, high: 23 }, // hour
  { low: 1, high: 31, question: true }, // day of month
  { low: 1, high: 12, names: MONTHS, nameBase: 1 }, // month
  { low: 0, high: 7, names: DAYS, nameBase: 0, question: true }, // day of week
]

function fieldValue(spec: FieldSpec, token: string): number | null {
  if (/^[0-9]+$/.test(token)) {
    const value = Number(token)
    return value >= spec.low && value <= spec.high ? value : null
  }
  const index = spec.names?.indexOf(token.toUpperCase()) ?? -1
  return index >= 0 ? index + (spec.nameBase ?? 0) : null
}

/** Whether one field is valid in DJS's grammar (a mirror of `_parse_field`; L, W and # are not). */
function validField(spec: FieldSpec, text: string, isDow: boolean): boolean {
  if (text === '?') return !!spec.question
  const items = text.split(',')
  const span = (isDow ? 6 : spec.high) - spec.low + 1
  return items.every((item) => {
    const [base, step, extra] = item.split('/')
    if (extra !== undefined || base === undefined || base === '') return false
    if (step !== undefined && (!/^[0-9]+$/.test(step) || Number(step) < 1 || Number(step) > span)) return false
    if (base === '*') return step !== undefined || items.length === 1
    const range = base.split('-')
    if (range.length > 2) return false
    const first = fieldValue(spec, range[0] ?? '')
    if (first === null) return false
    if (range.length === 1) return true
    let last = fieldValue(spec, range[1] ?? '')
    if (last === null) return false
    if (isDow && last === 0 && first > 0) last = 7
    return first <= last
  })
}

/** `1h30m` -> 5400; null for anything the platform's `_parse_duration` would refuse. */
export function parseDuration(text: string): number | null {
  const body = text.startsWith('+') ? text.slice(1) : text
  if (!/^([0-9]*\.?[0-9]+[hms]|[0-9]+\.[hms])+$/.test(body)) return null
  let total = 0
  for (const [, number, unit] of body.matchAll(/([0-9.]+)([hms])/g)) {
    total += Number(number) * ({ h: 3600, m: 60, s: 1 } as Record<string, number>)[unit ?? 's']!
  }
  total = Math.round(total * 1e6) / 1e6
  return Number.isInteger(total) && total >= 1 && total <= 366 * 86400 ? total : null
}

function describeSeconds(total: number, t: Translate): string {
  const hours = Math.floor(total / 3600)
  const minutes = Math.floor((total % 3600) / 60)
  const seconds = total % 60
  const parts: string[] = []
  const unit = (n: number, one: string, many: string) => parts.push(t(`cron.describe.${n === 1 ? one : many}`, { n }))
  if (hours) unit(hours, 'hour', 'hours')
  if (minutes) unit(minutes, 'minute', 'minutes')
  if (seconds) unit(seconds, 'second', 'seconds')
  return t('cron.describe.every', { duration: parts.join(' ') })
}

/** The expression as 6 cron fields (seconds first), or an interval in seconds; null when DJS refuses it. */
function normalize(expression: string): { fields: string[] } | { every: number } | null {
  let text = expression.trim().replace(/\s+/g, ' ')
  if (!text) return null
  if (text.startsWith('@')) {
    const [word = '', argument, extra] = text.split(' ')
    const lowered = word.toLowerCase()
    if (lowered === '@every') {
      const seconds = argument && extra === undefined ? parseDuration(argument) : null
      return seconds === null ? null : { every: seconds }
    }
    if (!(lowered in MACROS) || argument !== undefined) return null
    text = MACROS[lowered]!
  }
  const fields = text.split(' ')
  if (fields.length === 1) {
    const daily = /^([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?$/.exec(text)
    if (daily) {
      const [hour, minute, second] = [Number(daily[1]), Number(daily[2]), Number(daily[3] ?? 0)]
      return hour <= 23 && minute <= 59 && second <= 59 ? { fields: [`${second}`, `${minute}`, `${hour}`, '*', '*', '*'] } : null
    }
    const seconds = parseDuration(text)
    return seconds === null ? null : { every: seconds }
  }
  if (fields.length === 5) fields.unshift('0')
  if (fields.length !== 6) return null
  if (!fields.every((field, index) => validField(FIELDS[index]!, field, index === 5))) return null
  return { fields }
}

/**
 * The schedule in words, in the console's language (`en` or `zh-CN`): "Every 5 seconds" / "每 5 秒",
 * "At 09:30, Monday through Friday" / "在09:30, 星期一至星期五"; null when there is nothing right to say.
 */
export function describeCron(expression: string, locale: string, t: Translate): string | null {
  const parsed = normalize(expression)
  if (!parsed) return null
  if ('every' in parsed) return describeSeconds(parsed.every, t)
  const fields = [...parsed.fields]
  const [dom = '*', dow = '*'] = [fields[3], fields[5]]
  const domStar = dom.startsWith('*') || dom === '?'
  const dowStar = dow.startsWith('*') || dow === '?'
  // Vixie's rule (DJS): with one day field starting with '*' both must match. cronstrue words "*/2" as its own
  // clause joined by "and"/"或者", which reads as either-or: say nothing rather than something wrong.
  if ((domStar && dom !== '*' && dom !== '?' && !dowStar) || (dowStar && dow !== '*' && dow !== '?' && !domStar)) return null
  // 'FRI-0' / 'SAT-SUN': Sunday at the end of a range is 7, as in the platform.
  fields[5] = dow.replace(/([0-9A-Za-z]+)-(0|SUN)\b/gi, '$1-7')
  try {
    const text = cronstrue.toString(fields.join(' '), {
      locale: locale === 'zh-CN' ? 'zh_CN' : 'en',
      use24HourTimeFormat: true,
      dayOfWeekStartIndexZero: true,
      throwExceptionOnParseError: true,
      verbose: false,
    })
    return text || null
  } catch {
    return null
  }
}

// ------------------------------------------------------------------------------------------------------------
// The visual builder: the common schedules, each written as one expression (and read back from it).
// ------------------------------------------------------------------------------------------------------------

export type BuilderMode = 'seconds' | 'minutes' | 'hours' | 'daily' | 'weekly' | 'monthly'

export interface CronBuilderState {
  mode: BuilderMode
  /** every N seconds / minutes / hours */
  interval: number
  hour: number
  minute: number
  /** weekly: 0 = Sunday ... 6 = Saturday */
  days: number[]
  /** monthly: 1-31 */
  dayOfMonth: number
}

/** Intervals that divide the minute / hour / day evenly, so "every N" is exactly that (cron restarts each period). */
export const BUILDER_INTERVALS: Record<'seconds' | 'minutes' | 'hours', number[]> = {
  seconds: [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30],
  minutes: [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30],
  hours: [1, 2, 3, 4, 6, 8, 12],
}

export function defaultBuilderState(): CronBuilderState {
  return { mode: 'daily', interval: 5, hour: 2, minute: 0, days: [1, 2, 3, 4, 5], dayOfMonth: 1 }
}

/** The expression for the builder's choices. */
export function buildCron(state: CronBuilderState): string {
  const every = (n: number) => (n === 1 ? '*' : `*/${n}`)
  const at = `${state.minute} ${state.hour}`
  switch (state.mode) {
    case 'seconds':
      return `${every(state.interval)} * * * * *`
    case 'minutes':
      return `${every(state.interval)} * * * *`
    case 'hours':
      return `0 ${every(state.interval)} * * *`
    case 'daily':
      return `${at} * * *`
    case 'weekly':
      return `${at} * * ${[...new Set(state.days)].sort((a, b) => a - b).join(',')}`
    case 'monthly':
      return `${at} ${state.dayOfMonth} * *`
  }
}

/** The builder's choices for an expression it could have written; null for anything else (left as typed). */
export function parseBuilderCron(expression: string): CronBuilderState | null {
  const text = expression.trim().replace(/\s+/g, ' ')
  const state = defaultBuilderState()
  const interval = (token: string, allowed: number[]): number | null => {
    const n = token === '*' ? 1 : /^\*\/([0-9]+)$/.exec(token)?.[1]
    return n !== undefined && allowed.includes(Number(n)) ? Number(n) : null
  }
  const num = (token: string, low: number, high: number): number | null =>
    /^[0-9]{1,2}$/.test(token) && Number(token) >= low && Number(token) <= high ? Number(token) : null
  const fields = text.split(' ')
  if (fields.length === 6) {
    const n = interval(fields[0]!, BUILDER_INTERVALS.seconds)
    return n !== null && fields.slice(1).every((f) => f === '*') ? { ...state, mode: 'seconds', interval: n } : null
  }
  if (fields.length !== 5) return null
  const [minute = '', hour = '', dom = '', month = '', dow = ''] = fields
  if (month !== '*') return null
  if (hour === '*' && dom === '*' && dow === '*') {
    const n = interval(minute, BUILDER_INTERVALS.minutes)
    return n === null ? null : { ...state, mode: 'minutes', interval: n }
  }
  if (minute === '0' && dom === '*' && dow === '*' && (hour === '*' || hour.startsWith('*/'))) {
    const n = interval(hour, BUILDER_INTERVALS.hours)
    return n === null ? null : { ...state, mode: 'hours', interval: n }
  }
  const m = num(minute, 0, 59)
  const h = num(hour, 0, 23)
  if (m === null || h === null) return null
  const timed = { ...state, hour: h, minute: m }
  if (dom === '*' && dow === '*') return { ...timed, mode: 'daily' }
  if (dom === '*' && /^[0-6](-[0-6])?(,[0-6](-[0-6])?)*$/.test(dow)) {
    // '1-5' (a preset) reads as Monday to Friday; the builder writes it back as '1,2,3,4,5'.
    const days = new Set<number>()
    for (const item of dow.split(',')) {
      const [first, last = first] = item.split('-').map(Number) as [number, number?]
      if (last! < first) return null
      for (let day = first; day <= last!; day++) days.add(day)
    }
    return { ...timed, mode: 'weekly', days: [...days].sort((a, b) => a - b) }
  }
  const d = num(dom, 1, 31)
  if (d !== null && dow === '*') return { ...timed, mode: 'monthly', dayOfMonth: d }
  return null
}
