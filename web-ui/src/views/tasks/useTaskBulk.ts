import { computed, ref, shallowRef } from 'vue'
import { useI18n } from 'vue-i18n'
import { deleteTask, exportTasks, importTasks, setTaskStatus, type ApplyReport } from '@/api/tasks'
import type { Task } from '@/api/types'
import { isApiError } from '@/api/http'
import { confirmDanger, errorText, toastError, toastInfo, toastSuccess } from '@/utils/feedback'
import { downloadText, runBulk, type BulkAction, type BulkSummary } from './taskBulk'

export interface TaskBulkOptions {
  /** Reloads the list after a change. */
  reload: () => unknown
  /** Asks before a destructive action (default: the console's confirmation dialog). */
  confirm?: (message: string) => Promise<boolean>
}

/** Selection, bulk enable/disable/delete, export and import of the task list (issue 20). */
export function useTaskBulk(options: TaskBulkOptions) {
  const { t } = useI18n()
  const confirm = options.confirm ?? ((message: string) => confirmDanger(message))
  /** The selected rows of the current page (`el-table` selection-change). */
  const selected = shallowRef<Task[]>([])
  const busy = ref(false)
  /** The last bulk action's outcome while some task failed (shown until closed). */
  const summary = shallowRef<BulkSummary | null>(null)

  function onSelectionChange(rows: Task[]): void {
    selected.value = rows
  }

  const count = computed(() => selected.value.length)

  const CALLS: Record<BulkAction, (task: Task) => Promise<unknown>> = {
    enable: (task) => setTaskStatus(task.id, 1),
    disable: (task) => setTaskStatus(task.id, 0),
    delete: (task) => deleteTask(task.id),
  }

  /** Runs one bulk action over the selection; resolves with its summary (null when cancelled or empty). */
  async function bulk(action: BulkAction): Promise<BulkSummary | null> {
    const tasks = selected.value
    if (!tasks.length || busy.value) return null
    const names = tasks.slice(0, 5).map((task) => task.name).join(', ') + (tasks.length > 5 ? ', …' : '')
    if (action !== 'enable' && !(await confirm(t(`task.list.confirm.${action}`, { n: tasks.length, names })))) return null
    busy.value = true
    try {
      const result = await runBulk(action, tasks, CALLS[action])
      const counts = { done: result.done.length, skipped: result.skipped.length, failed: result.failed.length }
      if (result.failed.length) summary.value = result
      else if (result.done.length) toastSuccess(t(`task.list.done.${action}`, counts))
      else toastInfo(t('task.list.nothingToDo', counts))
      await options.reload()
      return result
    } finally {
      busy.value = false
    }
  }

  /** Downloads the selection as the declarative YAML (`GET /tasks/export`). */
  async function exportSelection(): Promise<boolean> {
    if (!selected.value.length) return false
    try {
      const result = await exportTasks(selected.value.map((task) => task.id))
      downloadText(result.filename, result.document)
      toastSuccess(t('task.list.exported', { n: result.count }))
      return true
    } catch (error) {
      toastError(error)
      return false
    }
  }

  // Import: a YAML file, checked (dry run) first, then applied.
  const importOpen = ref(false)
  const importText = ref('')
  const importFile = ref('')
  const importReport = shallowRef<ApplyReport | null>(null)
  /** The server's refusal: its message and, for an invalid document, each field's problems. */
  const importError = shallowRef<{ message: string; fields: [string, string][] } | null>(null)
  const importing = ref(false)

  function openImport(): void {
    importText.value = ''
    importFile.value = ''
    importReport.value = null
    importError.value = null
    importOpen.value = true
  }

  async function chooseFile(file: File): Promise<void> {
    importFile.value = file.name
    importText.value = await file.text()
    importReport.value = null
    importError.value = null
  }

  /** Sends the document; a dry run reports what would change, the real run applies it (all or nothing). */
  async function runImport(dryRun: boolean): Promise<ApplyReport | null> {
    if (!importText.value.trim() || importing.value) return null
    importing.value = true
    importError.value = null
    try {
      const report = await importTasks(importText.value, dryRun)
      importReport.value = report
      if (!dryRun) {
        toastSuccess(t('task.list.imported', { created: report.created.length, updated: report.updated.length,
          unchanged: report.unchanged.length }))
        await options.reload()
      }
      return report
    } catch (error) {
      importReport.value = null
      const fields = isApiError(error) ? Object.entries(error.fields).map(([field, problems]) => [field, problems.join('; ')] as [string, string]) : []
      importError.value = { message: errorText(error), fields }
      return null
    } finally {
      importing.value = false
    }
  }

  return {
    selected, count, busy, summary, onSelectionChange, bulk, exportSelection,
    importOpen, importText, importFile, importReport, importError, importing, openImport, chooseFile, runImport,
  }
}
