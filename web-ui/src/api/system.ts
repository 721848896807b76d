import { http } from './http'
import type { AuditLog, AuditQuery, Page, SchedulerNode, SchedulerState } from './types'

export function listNodes(): Promise<SchedulerNode[]> {
  return http.get<SchedulerNode[]>('/nodes')
}

export function listAuditLogs(query: AuditQuery): Promise<Page<AuditLog>> {
  return http.get<Page<AuditLog>>('/audit-logs', { ...query })
}

export function getSchedulerState(): Promise<SchedulerState> {
  return http.get<SchedulerState>('/scheduler/state')
}

/** Maintenance mode on (needs system:manage): every node stops claiming; running executions finish. */
export function pauseScheduler(reason: string): Promise<SchedulerState> {
  return http.post<SchedulerState>('/scheduler/pause', reason ? { reason } : {})
}

export function resumeScheduler(): Promise<SchedulerState> {
  return http.post<SchedulerState>('/scheduler/resume', {})
}
