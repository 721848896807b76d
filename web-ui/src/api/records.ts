import { http } from './http'
import type { LogQuery, MonthQuery, Page, RecordLog, RecordQuery, RecordStats, TaskRecord } from './types'

export function listRecords(query: RecordQuery): Promise<Page<TaskRecord>> {
  return http.get<Page<TaskRecord>>('/records', { ...query })
}

export function getRecord(id: number, month: MonthQuery): Promise<TaskRecord> {
  return http.get<TaskRecord>(`/records/${id}`, { ...month })
}

/** A slice of a SHELL execution's log (4004 for other task types). */
export function getRecordLog(id: number, month: MonthQuery, query: LogQuery = {}, signal?: AbortSignal): Promise<RecordLog> {
  return http.get<RecordLog>(`/records/${id}/log`, { ...month, ...query }, { signal })
}

export function recordStats(query: MonthQuery & { taskId?: number; departmentId?: number }): Promise<RecordStats> {
  return http.get<RecordStats>('/records/stats', { ...query })
}
