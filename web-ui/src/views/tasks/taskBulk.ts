/**
 * The task list's bulk actions, clone and export (issue 20), as plain functions: each bulk action is the
 * single-task call per selected row (the server checks each one exactly as for the single action: task:update,
 * task:delete, task:shell for SHELL), a few at a time, with a per-task summary of what failed.
 */
import type { LocationQueryRaw } from 'vue-router'
import { errorText } from '@/utils/feedback'
import { isApiError } from '@/api/http'
import type { Task } from '@/api/types'
import { taskToForm, type TaskFormModel } from './taskForm'

export type BulkAction = 'enable' | 'disable' | 'delete'

/** What one bulk action did: tasks it changed, tasks already as asked (not called), tasks it could not change. */
export interface BulkSummary {
  action: BulkAction
  done: Task[]
  skipped: Task[]
  failed: { task: Task; code: number | null; message: string }[]
}

/** Calls at once (the console's own courtesy towards the server; each call is one small transaction). */
export const BULK_CONCURRENCY = 4

/** The status a bulk enable/disable sets; a row already there is skipped (no write, no audit row). */
export function alreadyDone(action: BulkAction, task: Pick<Task, 'status'>): boolean {
  if (action === 'enable') return task.status === 1
  if (action === 'disable') return task.status === 0
  return false
}

/** Runs `call` for every task, `concurrency` at a time; never throws: failures are listed per task. */
export async function runBulk(
  action: BulkAction,
  tasks: readonly Task[],
  call: (task: Task) => Promise<unknown>,
  concurrency = BULK_CONCURRENCY,
): Promise<BulkSummary> {
  const summary: BulkSummary = { action, done: [], skipped: [], failed: [] }
  const queue = tasks.filter((task) => {
    if (!alreadyDone(action, task)) return true
    summary.skipped.push(task)
    return false
  })
  let next = 0
  async function worker(): Promise<void> {
    while (next < queue.length) {
      const task = queue[next++]!
      try {
        await call(task)
        summary.done.push(task)
      } catch (error) {
        summary.failed.push({ task, code: isApiError(error) ? error.code : null, message: errorText(error) })
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker))
  const order = new Map(tasks.map((task, index) => [task.id, index]))
  const byRow = (a: Task, b: Task) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0)
  summary.done.sort(byRow)
  summary.failed.sort((a, b) => byRow(a.task, b.task))
  return summary
}

/** Longest task name the server takes (apps/tasks/specs.py MAX_NAME). */
export const MAX_TASK_NAME = 255

/** The name of a clone: the original's plus the suffix, cut so that it stays a valid name. */
export function cloneName(name: string, suffix = ' (copy)'): string {
  const chars = Array.from(name)
  const room = MAX_TASK_NAME - Array.from(suffix).length
  return (chars.length > room ? chars.slice(0, room).join('') : name) + suffix
}

/** Query key of the create route that names the task to copy (`/tasks/new?type=HTTP&clone=12`). */
export const CLONE_QUERY = 'clone'

/** Where Clone goes: the create form of the task's type, told which task to copy. */
export function cloneRoute(task: Pick<Task, 'id' | 'taskType'>): { name: string; query: LocationQueryRaw } {
  return { name: 'task-new', query: { type: task.taskType, [CLONE_QUERY]: String(task.id) } }
}

/** The id a create route's query asks to copy, or null. */
export function cloneSource(query: Record<string, unknown>): number | null {
  const raw = Array.isArray(query[CLONE_QUERY]) ? (query[CLONE_QUERY] as unknown[])[0] : query[CLONE_QUERY]
  return typeof raw === 'string' && /^\d{1,15}$/.test(raw) && Number(raw) > 0 ? Number(raw) : null
}

/** Saves a text as a file through the browser (an object URL on a temporary link). */
export function downloadText(filename: string, text: string, type = 'application/yaml'): void {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }))
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  link.style.display = 'none'
  document.body.appendChild(link)
  try {
    link.click()
  } finally {
    link.remove()
    setTimeout(() => URL.revokeObjectURL(url), 0)
  }
}

/**
 * The create form's values for a copy of `task`: every field of the original, the name plus `suffix`, and
 * disabled, so the copy does not fire next to the original before the user has looked at it (they may enable it
 * on the form). The create form opens with these when its route names the task (`cloneRoute`, `cloneSource`).
 */
export function cloneForm(task: Task, suffix = ' (copy)'): TaskFormModel {
  return { ...taskToForm(task), name: cloneName(task.name, suffix), status: 0 }
}
