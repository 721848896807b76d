import { computed, nextTick, onMounted, reactive, ref, shallowRef, watch } from 'vue'
import { useRoute, useRouter, type LocationQuery, type LocationQueryRaw } from 'vue-router'
import { departmentTree } from '@/api/departments'
import { isApiError } from '@/api/http'
import { listRecords } from '@/api/records'
import type { Department, RecordPage, RecordStatus, TaskRecord, TaskType, TriggerType } from '@/api/types'
import { errorText, toastError } from '@/utils/feedback'
import { currentMonth, monthKey, parseMonthKey, type YearMonth } from '@/utils/format'

export interface RecordFilters {
  taskId: number | undefined
  departmentId: number | undefined
  status: RecordStatus | undefined
  taskType: TaskType | undefined
  triggerType: TriggerType | undefined
  /** A time range within the month (ISO-8601, scheduled at or after `start`, before `end`). */
  start: string | undefined
  end: string | undefined
}

/** What the records page shows: a month, its filters, and where the list starts (null: the newest record). */
export interface RecordListState {
  month: YearMonth
  filters: RecordFilters
  cursor: string | null
}

/** Rows per request ("Load more" asks for the next ones). */
export const PAGE_SIZE = 50
export const STATUSES: readonly RecordStatus[] = [0, 1, 2, 3, 4, 5]
export const TASK_TYPES: readonly TaskType[] = ['HTTP', 'GRPC', 'SHELL']
export const TRIGGERS: readonly TriggerType[] = ['SCHEDULE', 'MANUAL', 'RETRY', 'RECOVERY', 'CHILD']
/** The query keys the records page owns; any other key (the drawer's `recordId`) is left alone. */
export const LIST_KEYS = ['year', 'month', 'taskId', 'departmentId', 'status', 'taskType', 'triggerType', 'start', 'end', 'cursor'] as const

const EMPTY_FILTERS: RecordFilters = {
  taskId: undefined,
  departmentId: undefined,
  status: undefined,
  taskType: undefined,
  triggerType: undefined,
  start: undefined,
  end: undefined,
}

function first(value: LocationQuery[string] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  return typeof v === 'string' && v !== '' ? v : undefined
}

function positiveInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,18}$/.test(value)) return undefined
  const n = Number(value)
  return Number.isSafeInteger(n) && n > 0 ? n : undefined
}

function oneOf<T extends string | number>(value: T | undefined, allowed: readonly T[]): T | undefined {
  return value !== undefined && allowed.includes(value) ? value : undefined
}

function instant(value: string | undefined): string | undefined {
  return value !== undefined && value.length <= 40 && /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value))
    ? value
    : undefined
}

/** The first instant of a month and of the next one, in the browser's zone (the range picker's days). */
export function monthBounds(month: YearMonth): [Date, Date] {
  return [new Date(month.year, month.month - 1, 1), new Date(month.year, month.month, 1)]
}

/** A range is kept only inside its month and in order; anything else is no range. */
export function rangeInMonth(month: YearMonth, start: string | undefined, end: string | undefined): [string, string] | null {
  if (!start || !end) return null
  const [from, to] = monthBounds(month)
  const a = Date.parse(start)
  const b = Date.parse(end)
  return a >= from.getTime() && b <= to.getTime() && a < b ? [start, end] : null
}

/**
 * The page's state from its URL (`?year=2026&month=3&taskId=7&status=2&cursor=...`). Invalid or missing values
 * are dropped (the month falls back to the current one), so a hand-edited link still opens a page.
 */
export function parseListQuery(query: LocationQuery, now = new Date()): RecordListState {
  const year = positiveInt(first(query.year))
  const month = positiveInt(first(query.month))
  const ym = year !== undefined && year >= 1970 && year <= 9999 && month !== undefined && month <= 12
    ? { year, month }
    : currentMonth(now)
  const status = first(query.status)
  const cursor = first(query.cursor)
  const range = rangeInMonth(ym, instant(first(query.start)), instant(first(query.end)))
  return {
    month: ym,
    filters: {
      taskId: positiveInt(first(query.taskId)),
      departmentId: positiveInt(first(query.departmentId)),
      status: status === undefined || !/^\d$/.test(status) ? undefined : oneOf(Number(status) as RecordStatus, STATUSES),
      taskType: oneOf(first(query.taskType) as TaskType | undefined, TASK_TYPES),
      triggerType: oneOf(first(query.triggerType) as TriggerType | undefined, TRIGGERS),
      start: range?.[0],
      end: range?.[1],
    },
    cursor: cursor !== undefined && cursor.length <= 512 ? cursor : null,
  }
}

/** The URL query of a state: the month always, filters and cursor only when set. */
export function listQuery(state: RecordListState): Record<string, string> {
  const query: Record<string, string> = { year: String(state.month.year), month: String(state.month.month) }
  const { taskId, departmentId, status, taskType, triggerType, start, end } = state.filters
  if (taskId !== undefined && taskId !== null) query.taskId = String(taskId)
  if (departmentId !== undefined) query.departmentId = String(departmentId)
  if (status !== undefined) query.status = String(status)
  if (taskType !== undefined) query.taskType = taskType
  if (triggerType !== undefined) query.triggerType = triggerType
  if (start && end) {
    query.start = start
    query.end = end
  }
  if (state.cursor) query.cursor = state.cursor
  return query
}

/** The page's own keys of a route query, as strings (for telling our own `router.replace` from a navigation). */
export function listKeysOf(query: LocationQuery): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key of LIST_KEYS) {
    const value = first(query[key])
    if (value !== undefined) out[key] = value
  }
  return out
}

function sameQuery(a: Record<string, string>, b: Record<string, string>): boolean {
  return LIST_KEYS.every((key) => a[key] === b[key])
}

/** What one instance of the page shows, handed to the next one (see `handoff`). */
interface Snapshot {
  month: string
  filters: RecordFilters
  applied: RecordListState
  rows: TaskRecord[]
  total: number
  totalCapped: boolean
  rawPruned: boolean
  hasMore: boolean
  nextCursor: string | null
  startedAt: string | null
  cursorRefused: boolean
  tree: Department[]
}

/**
 * The console keys each page by `route.fullPath` (MainLayout), so the page's own `router.replace` creates a new
 * instance of it. Before replacing, the page leaves what it shows here, under the list keys of the URL it goes
 * to; the next instance takes it (once) instead of asking the API again. Any other arrival loads afresh.
 */
let handoff: { key: string; snapshot: Snapshot } | null = null

function handoffKey(query: LocationQuery | LocationQueryRaw): string {
  return JSON.stringify(listKeysOf(query as LocationQuery))
}

/** `1,234`, or `10,000+` when the API counted only up to that many (`totalCapped`). */
export function formatTotal(total: number, capped: boolean, locale = 'en'): string {
  const text = new Intl.NumberFormat(locale).format(total)
  return capped ? `${text}+` : text
}

/** A cursor the API refused (another user's, another month or filter set, altered): 4001 on `cursor`. */
export function isCursorRefused(error: unknown): boolean {
  return isApiError(error) && error.code === 4001 && 'cursor' in error.fields
}

/**
 * The records page: one month's records, newest first, `PAGE_SIZE` at a time ("Load more" follows the API's
 * `nextCursor`; no page numbers, which the API refuses beyond 10,000 rows). The month, the filters and the
 * cursor of the last rows loaded live in the URL (`router.replace`), so a reload or a shared link opens the same
 * list: a reload resumes at that cursor (`startedAt`; `newest()` goes back to the top), and a cursor the API
 * refuses — another user's link, other filters — starts from the newest record instead (`cursorRefused`).
 */
export function useRecords() {
  const route = useRoute()
  const router = useRouter()
  const routeName = route.name
  const initial = parseListQuery(route.query)
  const received = handoff?.key === handoffKey(route.query) ? handoff.snapshot : null
  handoff = null

  /** The month picker and the filter inputs (applied by `search`). */
  const month = ref(monthKey(initial.month))
  const filters = reactive<RecordFilters>({ ...initial.filters })
  /** What the rows show: the month and filters of the last `start` (cursors belong to them). */
  const applied = shallowRef<RecordListState>(initial)
  const ym = computed(() => applied.value.month)

  const rows = shallowRef<TaskRecord[]>([])
  const total = ref(0)
  const totalCapped = ref(false)
  const rawPruned = ref(false)
  const hasMore = ref(false)
  const nextCursor = ref<string | null>(null)
  /** The cursor the shown list starts at (a reload of a URL with one); null: from the newest record. */
  const startedAt = ref<string | null>(null)
  const cursorRefused = ref(false)
  const loading = ref(false)
  const loadingMore = ref(false)
  /** Why the list could not be loaded (shown with Retry instead of an empty table); null when it was. */
  const loadError = ref<string | null>(null)
  const tree = shallowRef<Department[]>([])

  // Answers for a list the page no longer shows (filters changed meanwhile) are dropped.
  let generation = 0
  // The page's keys as the URL has them for the shown list: a route change to anything else is a navigation.
  let current = listKeysOf(route.query)

  function request(state: RecordListState, cursor: string | null): Promise<RecordPage> {
    const f = state.filters
    return listRecords({
      ...state.month,
      size: PAGE_SIZE,
      cursor: cursor ?? undefined,
      taskId: f.taskId,
      departmentId: f.departmentId,
      status: f.status,
      taskType: f.taskType,
      triggerType: f.triggerType,
      ...(f.start && f.end ? { start: f.start, end: f.end } : {}),
    })
  }

  function take(page: RecordPage, append: boolean): void {
    if (append) {
      const seen = new Set(rows.value.map((r) => r.id))
      rows.value = [...rows.value, ...page.list.filter((r) => !seen.has(r.id))]
    } else {
      rows.value = page.list
    }
    total.value = page.total
    totalCapped.value = page.totalCapped === true
    rawPruned.value = page.rawPruned === true
    hasMore.value = page.hasMore && page.nextCursor !== null
    nextCursor.value = page.nextCursor
  }

  function snapshot(): Snapshot {
    return {
      month: month.value, filters: { ...filters }, applied: applied.value, rows: rows.value, total: total.value,
      totalCapped: totalCapped.value, rawPruned: rawPruned.value, hasMore: hasMore.value, nextCursor: nextCursor.value,
      startedAt: startedAt.value, cursorRefused: cursorRefused.value, tree: tree.value,
    }
  }

  /** `router.replace` that hands what the page shows to the instance the new URL creates (if it creates one). */
  function replaceQuery(query: LocationQueryRaw): void {
    const mine = { key: handoffKey(query), snapshot: snapshot() }
    handoff = mine
    router
      .replace({ query })
      .catch(() => undefined)
      // Not taken once the new URL is rendered (the same instance stayed): never offer it to a later visit.
      .finally(() => nextTick(() => {
        if (handoff === mine) handoff = null
      }))
  }

  /** Writes the shown list into the URL: month, filters and the cursor of the last rows loaded. */
  function sync(cursor: string | null): void {
    const own = listQuery({ ...applied.value, cursor })
    current = own
    if (sameQuery(own, listKeysOf(route.query))) return
    const others = Object.fromEntries(Object.entries(route.query).filter(([key]) => !(LIST_KEYS as readonly string[]).includes(key)))
    replaceQuery({ ...own, ...others })
  }

  /** Removes a key the page does not own (the drawer link's `recordId`) from the URL, keeping the list. */
  function dropQueryKey(key: string): void {
    if (route.query[key] === undefined) return
    replaceQuery(Object.fromEntries(Object.entries(route.query).filter(([k]) => k !== key)))
  }

  /** Shows `state`: its first rows (from its cursor when it has one), replacing what was shown. */
  async function start(state: RecordListState): Promise<void> {
    const mine = ++generation
    applied.value = state
    month.value = monthKey(state.month)
    Object.assign(filters, state.filters)
    rows.value = []
    hasMore.value = false
    nextCursor.value = null
    cursorRefused.value = false
    loadingMore.value = false
    loadError.value = null
    loading.value = true
    try {
      let cursor = state.cursor
      let page: RecordPage
      try {
        page = await request(state, cursor)
      } catch (error) {
        if (!cursor || !isCursorRefused(error) || mine !== generation) throw error
        cursorRefused.value = true
        cursor = null
        page = await request(state, null)
      }
      if (mine !== generation) return
      startedAt.value = cursor
      take(page, false)
      sync(cursor)
    } catch (error) {
      if (mine === generation) loadError.value = errorText(error)
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  /** The next `PAGE_SIZE` older rows, appended; the URL then carries the cursor they were asked with. */
  async function loadMore(): Promise<void> {
    const cursor = nextCursor.value
    if (!cursor || !hasMore.value || loading.value || loadingMore.value) return
    const mine = generation
    loadingMore.value = true
    try {
      const page = await request(applied.value, cursor)
      if (mine !== generation) return
      take(page, true)
      sync(cursor)
    } catch (error) {
      if (mine === generation) toastError(error)
    } finally {
      if (mine === generation) loadingMore.value = false
    }
  }

  /** Applies the month picker and the filter inputs, from the newest record; a range outside the month is dropped. */
  function search(): Promise<void> {
    const ym = parseMonthKey(month.value) ?? currentMonth()
    const range = rangeInMonth(ym, filters.start, filters.end)
    const chosen = { ...filters, taskId: filters.taskId ?? undefined, start: range?.[0], end: range?.[1] }
    return start({ month: ym, filters: chosen, cursor: null })
  }

  /** The range picker's model over `start`/`end`. */
  const range = computed<[string, string] | null>({
    get: () => (filters.start && filters.end ? [filters.start, filters.end] as [string, string] : null),
    set: (value: [string, string] | null) => {
      filters.start = value?.[0] || undefined
      filters.end = value?.[1] || undefined
    },
  })

  function reset(): Promise<void> {
    Object.assign(filters, EMPTY_FILTERS)
    return search()
  }

  /** Asks again for the list that failed to load (the error state's Retry). */
  function retry(): Promise<void> {
    return start(applied.value)
  }

  /** Back to the newest record with the shown month and filters (after resuming at a cursor). */
  function newest(): Promise<void> {
    return start({ ...applied.value, cursor: null })
  }

  // A navigation to the records page with another query (the menu entry, a link): show what it asks for.
  watch(
    () => route.query,
    (query) => {
      if (route.name !== routeName) return
      const own = listKeysOf(query)
      if (sameQuery(own, current)) return
      current = own
      void start(parseListQuery(query))
    },
  )

  if (received) {
    month.value = received.month
    Object.assign(filters, received.filters)
    applied.value = received.applied
    rows.value = received.rows
    total.value = received.total
    totalCapped.value = received.totalCapped
    rawPruned.value = received.rawPruned
    hasMore.value = received.hasMore
    nextCursor.value = received.nextCursor
    startedAt.value = received.startedAt
    cursorRefused.value = received.cursorRefused
    tree.value = received.tree
  }

  onMounted(async () => {
    if (received) return
    await start(initial)
    try {
      tree.value = await departmentTree()
    } catch (error) {
      toastError(error)
    }
  })

  return {
    month, ym, filters, range, applied, rows, total, totalCapped, rawPruned, hasMore, nextCursor, startedAt, cursorRefused,
    loading, loadingMore, loadError, tree, search, reset, newest, loadMore, retry, dropQueryKey,
  }
}
