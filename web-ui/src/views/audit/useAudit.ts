import { computed } from 'vue'
import { listAuditLogs } from '@/api/system'
import type { AuditLog } from '@/api/types'
import { filterCodecs, usePagedList } from '@/utils/usePagedList'

export interface AuditFilters {
  action: string
  objectType: string
  /** ISO-8601 instants: from (inclusive), to (exclusive). */
  start: string | undefined
  end: string | undefined
}

/** What `GET /audit-logs?sort=` takes: indexed columns only (the log only grows). */
export const AUDIT_SORTS = ['id', 'createTime'] as const

export function useAudit() {
  const list = usePagedList<AuditLog, AuditFilters>({
    filters: {
      action: filterCodecs.text(50),
      objectType: filterCodecs.text(50),
      start: filterCodecs.dateTime(),
      end: filterCodecs.dateTime(),
    },
    sorts: AUDIT_SORTS,
    sizes: [20, 50, 100],
    fetch: (params, f) => listAuditLogs({
      ...params,
      action: f.action?.trim() || undefined,
      objectType: f.objectType?.trim() || undefined,
      start: f.start,
      end: f.end,
    }),
  })
  const { filters } = list
  /** The date range picker's model over `start`/`end`. */
  const range = computed<[string, string] | null>({
    get: () => (filters.start && filters.end ? [filters.start, filters.end] as [string, string] : null),
    set: (value: [string, string] | null) => {
      filters.start = value?.[0] || undefined
      filters.end = value?.[1] || undefined
    },
  })
  return { ...list, loadError: list.error, range }
}
