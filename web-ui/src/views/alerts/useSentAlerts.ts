import { ref, shallowRef } from 'vue'
import { listAlerts } from '@/api/alerts'
import { getRecord } from '@/api/records'
import type { Alert, AlertKind, AlertStatus, TaskRecord } from '@/api/types'
import { toastError } from '@/utils/feedback'
import type { YearMonth } from '@/utils/format'
import { filterCodecs, usePagedList } from '@/utils/usePagedList'
import { ALERT_KINDS, ALERT_STATUSES } from './alertPolicy'

export interface SentAlertFilters {
  kind: AlertKind | undefined
  status: AlertStatus | undefined
  taskId: number | null | undefined
}

/** What `GET /alerts?sort=` takes: indexed columns only (sent alerts only grow). */
export const ALERT_SORTS = ['id', 'createTime'] as const

/**
 * The "Sent alerts" tab: filters (`?kind&status&taskId`, in the URL with page, size and sort), and the record an
 * alert is about (opened in the record drawer).
 */
export function useSentAlerts() {
  const list = usePagedList<Alert, SentAlertFilters>({
    filters: { kind: filterCodecs.oneOf(ALERT_KINDS), status: filterCodecs.oneOf(ALERT_STATUSES), taskId: filterCodecs.id() },
    sorts: ALERT_SORTS,
    sizes: [20, 50, 100],
    fetch: (params, f) => listAlerts({ ...params, kind: f.kind, status: f.status, taskId: f.taskId || undefined }),
  })
  const { filters, search } = list
  const record = shallowRef<TaskRecord | null>(null)
  const recordMonth = shallowRef<YearMonth | undefined>(undefined)
  const drawerOpen = ref(false)

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

  return { ...list, loadError: list.error, record, recordMonth, drawerOpen, reset, openRecord }
}
