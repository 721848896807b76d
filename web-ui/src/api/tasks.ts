import { http } from './http'
import type { components } from './schema.gen'
import type { CronPreview, GrpcTaskInput, HttpTaskInput, Page, ShellTaskInput, Task, TaskQuery, TaskStatus } from './types'

type TaskSchemas = components['schemas']

/** The newest execution of a task in this or last month's table (docs/api.md "Task list health"). */
export type TaskLastRun = TaskSchemas['LastRunOutput']

/** A task list row's health: the last 7 local days (today included), what runs now, the last run. */
export type TaskHealth = TaskSchemas['TaskHealthOutput']

/** A row of `GET /tasks`: the task and its health. */
export type TaskRow = TaskSchemas['TaskListOutput']

export function listTasks(query: TaskQuery): Promise<Page<TaskRow>> {
  return http.get<Page<TaskRow>>('/tasks', { ...query })
}

/** The declarative YAML of the given tasks (`GET /tasks/export?ids=`), what import and `djsctl tasks apply` take. */
export type TaskExport = TaskSchemas['TaskExportOutput']

export function exportTasks(ids: number[]): Promise<TaskExport> {
  return http.get<TaskExport>('/tasks/export', { ids: ids.join(',') })
}

/** One line of an apply/import report. */
export type AppliedTask = TaskSchemas['AppliedTaskOutput']

export type ApplyReport = TaskSchemas['TaskApplyOutput']

/** `POST /tasks/import`: apply a YAML document (all or nothing; `dryRun` reports and changes nothing). */
export function importTasks(document: string, dryRun = false): Promise<ApplyReport> {
  return http.post<ApplyReport>('/tasks/import', { document, dryRun })
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

export type TriggerResult = TaskSchemas['TriggerOutput']

/** What one manual run may send instead of the task's own values (HTTP body/headers, gRPC params). */
export type TriggerOverrides = TaskSchemas['TriggerInputRequest']

export function triggerTask(id: number, overrides: TriggerOverrides = {}): Promise<TriggerResult> {
  return http.post<TriggerResult>(`/tasks/${id}/trigger`, overrides)
}

/** `running`: executions running when the kill was asked (0: nothing to stop). */
export function killTask(id: number): Promise<TaskSchemas['KillOutput']> {
  return http.post(`/tasks/${id}/kill`, {})
}

export function cronPreview(cron: string, timezone: string, count = 5, from?: string, signal?: AbortSignal): Promise<CronPreview> {
  return http.get<CronPreview>('/tasks/cron-preview', { cron, timezone, count, from }, { signal })
}
