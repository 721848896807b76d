import { onMounted, reactive, ref, shallowRef } from 'vue'
import { listAlerts } from '@/api/alerts'
import { getRecord } from '@/api/records'
import type { Alert, AlertKind, AlertStatus, TaskRecord } from '@/api/types'
import { errorText, toastError } from '@/utils/feedback'
import type { YearMonth } from '@/utils/format'

export interface SentAlertFilters {
  kind: AlertKind | undefined
  status: AlertStatus | undefined
  taskId: number | null | undefined
}

/** The "Sent alerts" tab: filters, pagination, and the record an alert is about (opened in the record drawer). */
export function useSentAlerts(initial: { taskId?: number } = {}) {
  const filters = reactive<SentAlertFilters>({ kind: undefined, status: undefined, taskId: initial.taskId })
  const page = ref(1)
  const size = ref(20)
  const total = ref(0)
  const rows = shallowRef<Alert[]>([])
  const loading = ref(false)
  /** Why the list could not be loaded (shown with Retry instead of "No Data"); null when it was. */
  const loadError = ref<string | null>(null)
  const record = shallowRef<TaskRecord | null>(null)
  const recordMonth = shallowRef<YearMonth | undefined>(undefined)
  const drawerOpen = ref(false)

  async function load(): Promise<void> {
    loading.value = true
    loadError.value = null
    try {
      const result = await listAlerts({
        page: page.value,
        size: size.value,
        kind: filters.kind || undefined,
        status: filters.status || undefined,
        taskId: filters.taskId || undefined,
      })
      rows.value = result.list
      total.value = result.total
    } catch (error) {
      rows.value = []
      total.value = 0
      loadError.value = errorText(error)
    } finally {
      loading.value = false
    }
  }

  function search(): Promise<void> {
    page.value = 1
    return load()
  }

  function reset(): Promise<void> {
    Object.assign(filters, { kind: undefined, status: undefined, taskId: undefined })
    return search()
  }

  /** Records live in month tables: the alert names the month (recordYear/recordMonth). */
  async function openRecord(alert: Alert): Promise<void> {
    if (alert.recordId === null || alert.recordYear === null || alert.recordMonth === null) return
    const month = { year: alert.recordYear, month: alert.recordMonth }
    try {
      record.value = await getRecord(alert.recordId, month)
      recordMonth.value = month
      drawerOpen.value = true
    } catch (error) {
      toastError(error)
    }
  }

  onMounted(load)

  return { filters, page, size, total, rows, loading, loadError, record, recordMonth, drawerOpen, load, search, reset, openRecord }
}
