import { http } from './http'
import type { ApiQuery, ExecutionKill, LogQuery, MonthQuery, RecordLog, RecordPage, RecordQuery, RecordStats, TaskRecord } from './types'

/** One month's records, newest first; `cursor` (a previous answer's `nextCursor`) pages at any depth. */
export function listRecords(query: RecordQuery): Promise<RecordPage> {
  return http.get<RecordPage>('/records', { ...query })
}

export function getRecord(id: number, month: MonthQuery): Promise<TaskRecord> {
  return http.get<TaskRecord>(`/records/${id}`, { ...month })
}

/** A slice of a SHELL execution's log (4004 for other task types). */
export function getRecordLog(id: number, month: MonthQuery, query: LogQuery = {}, signal?: AbortSignal): Promise<RecordLog> {
  return http.get<RecordLog>(`/records/${id}/log`, { ...month, ...query }, { signal })
}

export function recordStats(query: ApiQuery<'records_stats_retrieve'>): Promise<RecordStats> {
  return http.get<RecordStats>('/records/stats', { ...query })
}

/** Stop one running execution (task:execute): its node cancels it within about a second; 4009 when not running. */
export function killRecord(id: number, month: MonthQuery): Promise<ExecutionKill> {
  return http.post(`/records/${id}/kill?year=${month.year}&month=${month.month}`, {})
}
