import { http } from './http'
import type { components } from './schema.gen'
import type { ApiQuery, Page } from './types'

type ExecutorSchemas = components['schemas']

/** One registry entry (GET /executors): only entries of departments in the user's scope. */
export type Executor = ExecutorSchemas['ExecutorOutput']
export type ExecutorKind = Executor['kind']
export type ExecutorStatus = Executor['status']
export type ExecutorSource = Executor['source']

export type ExecutorQuery = ApiQuery<'executors_list'>

/** PUT body: the fields given change (a self entry takes only status and weight). */
export type ExecutorFields = ExecutorSchemas['EntryUpdateInputRequest']

export type ExecutorCreateInput = ExecutorSchemas['EntryCreateInputRequest']

/** A name a task of the department can use: level 0 its own entries, 1 its parent's, ... (name and kind only). */
export type ExecutorName = ExecutorSchemas['NameOutput']

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
