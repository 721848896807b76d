import { http } from './http'
import type { Page, PageQuery } from './types'

export type ExecutorKind = 'grpc' | 'http'
export type ExecutorStatus = 'up' | 'down'
export type ExecutorSource = 'manual' | 'self' | 'dns'

/** One registry entry (GET /executors): only entries of departments in the user's scope. */
export interface Executor {
  id: number
  departmentId: number
  departmentName: string
  name: string
  kind: ExecutorKind
  address: string
  weight: number
  status: ExecutorStatus
  source: ExecutorSource
  ttlSeconds: number | null
  lastHeartbeat: string | null
  /** Status up and, for self entries, a heartbeat within the TTL. */
  live: boolean
  /** A dns:/// entry's current answers, else the address itself. */
  instances: string[]
  createTime: string
  updateTime: string
}

export interface ExecutorQuery extends PageQuery {
  name?: string
  kind?: ExecutorKind
  departmentId?: number
  source?: ExecutorSource
  status?: ExecutorStatus
}

/** PUT body: the fields given change (a self entry takes only status and weight). */
export interface ExecutorFields {
  name?: string
  kind?: ExecutorKind
  address?: string
  weight?: number
  status?: ExecutorStatus
}

export interface ExecutorCreateInput extends ExecutorFields {
  departmentId: number
  name: string
  kind: ExecutorKind
  address: string
}

/** A name a task of the department can use: level 0 its own entries, 1 its parent's, ... (name and kind only). */
export interface ExecutorName {
  name: string
  kind: ExecutorKind
  level: number
}

/** Entries of the department scope (needs executor:view). */
export function listExecutors(query: ExecutorQuery = {}): Promise<Page<Executor>> {
  return http.get<Page<Executor>>('/executors', { ...query })
}

export function getExecutor(id: number): Promise<Executor> {
  return http.get<Executor>(`/executors/${id}`)
}

/** A static (host:port, base URL) or DNS (dns:///host:port) entry; needs executor:manage. */
export function createExecutor(body: ExecutorCreateInput): Promise<Executor> {
  return http.post<Executor>('/executors', body)
}

export function updateExecutor(id: number, body: ExecutorFields): Promise<Executor> {
  return http.put<Executor>(`/executors/${id}`, body)
}

export function deleteExecutor(id: number): Promise<null> {
  return http.delete<null>(`/executors/${id}`)
}

/** Names a task in the department can use, nearest first (the task form offers them). */
export function listExecutorNames(departmentId?: number, kind?: ExecutorKind): Promise<ExecutorName[]> {
  return http.get<ExecutorName[]>('/executors/names', { departmentId, kind })
}
