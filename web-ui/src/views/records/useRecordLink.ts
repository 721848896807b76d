import { onMounted } from 'vue'
import type { LocationQuery } from 'vue-router'
import { getRecord } from '@/api/records'
import type { TaskRecord } from '@/api/types'
import { toastError } from '@/utils/feedback'

export interface RecordLink {
  year: number
  month: number
  id: number
}

/** `?year=2026&month=12&recordId=9001`, or null when any part is missing or invalid. */
export function parseRecordLink(query: LocationQuery): RecordLink | null {
  const year = Number(query.year)
  const month = Number(query.month)
  const id = Number(query.recordId)
  const ok = Number.isInteger(year) && year >= 1970 && year <= 9999 && Number.isInteger(month) && month >= 1
    && month <= 12 && Number.isInteger(id) && id > 0
  return ok ? { year, month, id } : null
}

/**
 * The records page opened from a link alerts carry (`alerts.consoleUrl` + `/records?year=&month=&recordId=`,
 * docs/alerts.md): that month's table (`useRecords` reads `year`/`month` like any records URL), and the
 * record's drawer. `recordId` stays in the URL while that drawer is open (the page drops it on close).
 */
export function useRecordLink(query: LocationQuery, open: (record: TaskRecord) => void): void {
  const link = parseRecordLink(query)
  if (!link) return
  onMounted(async () => {
    try {
      open(await getRecord(link.id, { year: link.year, month: link.month }))
    } catch (error) {
      toastError(error)
    }
  })
}
