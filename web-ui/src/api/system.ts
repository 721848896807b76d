import { http } from './http'
import type { AuditLog, AuditQuery, Page, SchedulerNode } from './types'

export function listNodes(): Promise<SchedulerNode[]> {
  return http.get<SchedulerNode[]>('/nodes')
}

export function listAuditLogs(query: AuditQuery): Promise<Page<AuditLog>> {
  return http.get<Page<AuditLog>>('/audit-logs', { ...query })
}
