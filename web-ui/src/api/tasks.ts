import { http } from './http'
import type { CronPreview, GrpcTaskInput, HttpTaskInput, Page, ShellTaskInput, Task, TaskQuery, TaskStatus } from './types'

export function listTasks(query: TaskQuery): Promise<Page<Task>> {
  return http.get<Page<Task>>('/tasks', { ...query })
}

export function getTask(id: number): Promise<Task> {
  return http.get<Task>(`/tasks/${id}`)
}

export function createHttpTask(body: HttpTaskInput): Promise<Task> {
  return http.post<Task>('/tasks/http', body)
}

export function createGrpcTask(body: GrpcTaskInput): Promise<Task> {
  return http.post<Task>('/tasks/grpc', body)
}

/** Needs task:create and task:shell, and job.shell.enabled on the platform (otherwise 4003). */
export function createShellTask(body: ShellTaskInput): Promise<Task> {
  return http.post<Task>('/tasks/shell', body)
}

export function updateHttpTask(id: number, body: HttpTaskInput): Promise<Task> {
  return http.put<Task>(`/tasks/http/${id}`, body)
}

export function updateGrpcTask(id: number, body: GrpcTaskInput): Promise<Task> {
  return http.put<Task>(`/tasks/grpc/${id}`, body)
}

/** Needs task:update and task:shell, and job.shell.enabled on the platform (otherwise 4003). */
export function updateShellTask(id: number, body: ShellTaskInput): Promise<Task> {
  return http.put<Task>(`/tasks/shell/${id}`, body)
}

export function setTaskStatus(id: number, status: TaskStatus): Promise<Task> {
  return http.patch<Task>(`/tasks/${id}/status`, { status })
}

export function deleteTask(id: number): Promise<null> {
  return http.delete<null>(`/tasks/${id}`)
}

export interface TriggerResult {
  triggerId: number
  taskId: number
  requestedAt: string
}

export function triggerTask(id: number): Promise<TriggerResult> {
  return http.post<TriggerResult>(`/tasks/${id}/trigger`, {})
}

/** `running`: executions running when the kill was asked (0: nothing to stop; absent from older servers). */
export function killTask(id: number): Promise<{ taskId: number; killRequested: boolean; running?: number }> {
  return http.post(`/tasks/${id}/kill`, {})
}

export function cronPreview(cron: string, timezone: string, count = 5, from?: string, signal?: AbortSignal): Promise<CronPreview> {
  return http.get<CronPreview>('/tasks/cron-preview', { cron, timezone, count, from }, { signal })
}
