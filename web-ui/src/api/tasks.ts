import { http } from './http'
import type { CronPreview, GrpcTaskInput, HttpTaskInput, Page, ShellTaskInput, Task, TaskQuery, TaskStatus } from './types'

/** The newest execution of a task in this or last month's table (docs/api.md "Task list health"). */
export interface TaskLastRun {
  id: number
  year: number
  month: number
  /** 0 running (waiting while startTime is null), 1 success, 2 failed, 3 killed, 4 skipped, 5 lost */
  status: number
  triggerType: string
  scheduledTime: string
  startTime: string | null
  endTime: string | null
  costTime: number | null
}

/** A task list row's health: the last 7 local days (today included), what runs now, the last run. */
export interface TaskHealth {
  runs: number
  successCount: number
  failCount: number
  /** successCount / (successCount + failCount); null without either */
  successRate: number | null
  running: number
  lastRun: TaskLastRun | null
}

/** A row of `GET /tasks`: the task and its health (absent from older servers). */
export type TaskRow = Task & { health?: TaskHealth | null }

export function listTasks(query: TaskQuery): Promise<Page<TaskRow>> {
  return http.get<Page<TaskRow>>('/tasks', { ...query })
}

/** The declarative YAML of the given tasks (`GET /tasks/export?ids=`), what import and `djsctl tasks apply` take. */
export interface TaskExport {
  document: string
  count: number
  filename: string
}

export function exportTasks(ids: number[]): Promise<TaskExport> {
  return http.get<TaskExport>('/tasks/export', { ids: ids.join(',') })
}

/** One line of an apply/import report. */
export interface AppliedTask {
  index: number | null
  id: number | null
  name: string
  departmentId: number
  departmentName: string
  taskType: string
  changes: string[]
}

export interface ApplyReport {
  dryRun: boolean
  prune: boolean
  created: AppliedTask[]
  updated: AppliedTask[]
  unchanged: AppliedTask[]
  pruned: AppliedTask[]
}

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

export interface TriggerResult {
  triggerId: number
  taskId: number
  requestedAt: string
}

/** What one manual run may send instead of the task's own values (HTTP body/headers, gRPC params). */
export interface TriggerOverrides {
  body?: string
  headers?: Record<string, string>
  grpcParams?: Record<string, unknown>
}

export function triggerTask(id: number, overrides: TriggerOverrides = {}): Promise<TriggerResult> {
  return http.post<TriggerResult>(`/tasks/${id}/trigger`, overrides)
}

/** `running`: executions running when the kill was asked (0: nothing to stop; absent from older servers). */
export function killTask(id: number): Promise<{ taskId: number; killRequested: boolean; running?: number }> {
  return http.post(`/tasks/${id}/kill`, {})
}

export function cronPreview(cron: string, timezone: string, count = 5, from?: string, signal?: AbortSignal): Promise<CronPreview> {
  return http.get<CronPreview>('/tasks/cron-preview', { cron, timezone, count, from }, { signal })
}
