import { http } from './http'
import type { MonthQuery, Page, RecordQuery, RecordStats, TaskRecord } from './types'

export function listRecords(query: RecordQuery): Promise<Page<TaskRecord>> {
  return http.get<Page<TaskRecord>>('/records', { ...query })
}

export function getRecord(id: number, month: MonthQuery): Promise<TaskRecord> {
  return http.get<TaskRecord>(`/records/${id}`, { ...month })
}

export function recordStats(query: MonthQuery & { taskId?: number; departmentId?: number }): Promise<RecordStats> {
  return http.get<RecordStats>('/records/stats', { ...query })
}
