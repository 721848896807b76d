import { computed, onBeforeUnmount, onMounted, ref, shallowRef, watch } from 'vue'
import { listRecords, recordStats } from '@/api/records'
import { listNodes } from '@/api/system'
import { listTasks } from '@/api/tasks'
import type { RecordStats, SchedulerNode } from '@/api/types'
import { useAuthStore } from '@/stores/auth'
import { toastError } from '@/utils/feedback'
import { currentMonth, monthKey, parseMonthKey } from '@/utils/format'
import { lagSummary, type LagSummary } from '@/utils/lag'

export interface TaskCounts {
  total: number
  enabled: number
  disabled: number
  oneShot: number
}

/** How many recent SCHEDULE records the lag figures are computed from (one page, the API maximum). */
export const LAG_SAMPLE_SIZE = 100
const NODE_REFRESH_MS = 10_000

export function useDashboard() {
  const auth = useAuthStore()
  const month = ref(monthKey(currentMonth()))
  const loading = ref(false)
  const stats = shallowRef<RecordStats | null>(null)
  const counts = shallowRef<TaskCounts | null>(null)
  const lag = shallowRef<LagSummary | null>(null)
  const nodes = shallowRef<SchedulerNode[]>([])
  const canRecords = computed(() => auth.can('record:view'))
  const canTasks = computed(() => auth.can('task:view'))
  let timer: ReturnType<typeof setInterval> | undefined

  async function loadCounts(): Promise<void> {
    if (!canTasks.value) return
    const total = (status?: 0 | 1 | 2) => listTasks({ page: 1, size: 1, status }).then((p) => p.total)
    const [all, enabled, disabled, oneShot] = await Promise.all([total(), total(1), total(0), total(2)])
    counts.value = { total: all, enabled, disabled, oneShot }
  }

  async function loadRecords(): Promise<void> {
    if (!canRecords.value) return
    const ym = parseMonthKey(month.value) ?? currentMonth()
    const [s, recent] = await Promise.all([
      recordStats(ym),
      listRecords({ ...ym, triggerType: 'SCHEDULE', page: 1, size: LAG_SAMPLE_SIZE }),
    ])
    stats.value = s
    lag.value = lagSummary(recent.list)
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

  watch(month, () => void loadRecords().catch(toastError))
  onMounted(() => {
    void load()
    timer = setInterval(() => void loadNodes().catch(() => undefined), NODE_REFRESH_MS)
  })
  onBeforeUnmount(() => clearInterval(timer))

  return { month, loading, stats, counts, lag, nodes, liveNodes, runningNow, canRecords, canTasks, load, loadNodes }
}
