import { computed, onBeforeUnmount, onMounted, ref, shallowRef, watch } from 'vue'
import { listRecords, recordStats } from '@/api/records'
import { listNodes } from '@/api/system'
import { listTasks } from '@/api/tasks'
import type { RecordStats, SchedulerNode } from '@/api/types'
import { useAuthStore } from '@/stores/auth'
import { toastError } from '@/utils/feedback'
import { browserTimeZone, currentMonth, monthKey, parseMonthKey, type YearMonth } from '@/utils/format'
import { lagSummary, type LagSummary } from '@/utils/lag'
import { localDate, monthsOf, recentWindows, summarize, type WindowSummary } from './recentWindows'

export interface TaskCounts {
  total: number
  enabled: number
  disabled: number
  oneShot: number
}

/** Today's and the last 7 days' figures, from the `/records/stats` daily series. */
export interface RecentFigures {
  today: WindowSummary
  week: WindowSummary
}

/** A month `/records/stats` answered with a `warning` (its rollups are not built: figures from raw rows). */
export interface StatsWarning {
  month: string
  text: string
}

export type FetchStats = (month: YearMonth) => Promise<RecordStats>

/**
 * Today and the last 7 days (today included), whole local days as `/records/stats` gives them: from the daily
 * series of today's month, plus the previous month's only when the 7 days reach into it. `known` holds
 * answers (or requests under way) to reuse, keyed `YYYY-MM`: the month the dashboard shows is often one of them.
 */
export async function loadRecentFigures(
  today: string,
  fetchStats: FetchStats,
  known: ReadonlyMap<string, Promise<RecordStats>> = new Map(),
): Promise<{ figures: RecentFigures; answers: RecordStats[] }> {
  const windows = recentWindows(today)
  const answers = await Promise.all(monthsOf(windows.week).map((m) => known.get(monthKey(m)) ?? fetchStats(m)))
  const daily = answers.flatMap((a) => a.daily)
  return { figures: { today: summarize(daily, windows.today), week: summarize(daily, windows.week) }, answers }
}

/** The distinct warnings of some `/records/stats` answers, one per month. */
export function statsWarnings(answers: readonly (RecordStats | null)[]): StatsWarning[] {
  const byMonth = new Map<string, string>()
  for (const answer of answers) if (answer?.warning) byMonth.set(monthKey(answer), answer.warning)
  return [...byMonth].map(([month, text]) => ({ month, text })).sort((a, b) => a.month.localeCompare(b.month))
}

/** How many recent SCHEDULE records the lag figures are computed from (one page, the API maximum). */
export const LAG_SAMPLE_SIZE = 100
const NODE_REFRESH_MS = 10_000

export interface DashboardOptions {
  /** The zone whose date is "today" when `/records/stats` does not name the platform's (default: the browser's). */
  zone?: () => string
  now?: () => Date
}

export function useDashboard(options: DashboardOptions = {}) {
  const zone = options.zone ?? browserTimeZone
  const now = options.now ?? (() => new Date())
  const auth = useAuthStore()
  const month = ref(monthKey(currentMonth(now())))
  const loading = ref(false)
  const stats = shallowRef<RecordStats | null>(null)
  const recent = shallowRef<RecentFigures | null>(null)
  const recentAnswers = shallowRef<RecordStats[]>([])
  const counts = shallowRef<TaskCounts | null>(null)
  const lag = shallowRef<LagSummary | null>(null)
  const nodes = shallowRef<SchedulerNode[]>([])
  const canRecords = computed(() => auth.can('record:view'))
  const canTasks = computed(() => auth.can('task:view'))
  const warnings = computed(() => statsWarnings([stats.value, ...recentAnswers.value]))
  let timer: ReturnType<typeof setInterval> | undefined
  // A late answer for a month no longer picked is dropped.
  let monthGeneration = 0

  async function loadCounts(): Promise<void> {
    if (!canTasks.value) return
    const total = (status?: 0 | 1 | 2) => listTasks({ page: 1, size: 1, status }).then((p) => p.total)
    const [all, enabled, disabled, oneShot] = await Promise.all([total(), total(1), total(0), total(2)])
    counts.value = { total: all, enabled, disabled, oneShot }
  }

  /** The picked month: its stats (or the request already made for it) and the lag sample. */
  async function loadMonth(request?: Promise<RecordStats>): Promise<void> {
    if (!canRecords.value) return
    const mine = ++monthGeneration
    const ym = parseMonthKey(month.value) ?? currentMonth(now())
    const [s, sample] = await Promise.all([
      request ?? recordStats(ym),
      listRecords({ ...ym, triggerType: 'SCHEDULE', page: 1, size: LAG_SAMPLE_SIZE }),
    ])
    if (mine !== monthGeneration) return
    stats.value = s
    lag.value = lagSummary(sample.list)
  }

  /** The picked month and the today / last-7-days windows, sharing a month both need. */
  async function loadRecords(): Promise<void> {
    if (!canRecords.value) return
    const ym = parseMonthKey(month.value) ?? currentMonth(now())
    const picked = recordStats(ym)
    const known = new Map([[monthKey(ym), picked]])
    // "Today" is a date in the platform's zone (the days the daily series counts), known from the first answer.
    const [, recentResult] = await Promise.all([
      loadMonth(picked),
      picked.then((s) => loadRecentFigures(localDate(now(), s.timeZone ?? zone()), recordStats, known)),
    ])
    recent.value = recentResult.figures
    recentAnswers.value = recentResult.answers
  }

  async function loadNodes(): Promise<void> {
    nodes.value = await listNodes()
  }

  async function load(): Promise<void> {
    loading.value = true
    try {
      await Promise.all([loadCounts(), loadRecords(), loadNodes()])
    } catch (error) {
      toastError(error)
    } finally {
      loading.value = false
    }
  }

  const liveNodes = computed(() => nodes.value.filter((n) => n.alive))
  const runningNow = computed(() => liveNodes.value.reduce((sum, n) => sum + n.running, 0))

  // Another month changes the month's figures only: today and the last 7 days stay.
  watch(month, () => void loadMonth().catch(toastError))
  onMounted(() => {
    void load()
    timer = setInterval(() => void loadNodes().catch(() => undefined), NODE_REFRESH_MS)
  })
  onBeforeUnmount(() => clearInterval(timer))

  return {
    month, loading, stats, recent, warnings, counts, lag, nodes, liveNodes, runningNow, canRecords, canTasks, load,
    loadNodes,
  }
}
