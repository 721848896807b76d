import { useI18n } from 'vue-i18n'
import { deleteTask, killTask, setTaskStatus, triggerTask } from '@/api/tasks'
import type { Task } from '@/api/types'
import { confirmDanger, toastError, toastInfo, toastSuccess } from '@/utils/feedback'

/** What a task-level kill answered: nothing was running (issue 20, defect 8), or a kill is on its way. */
export function killOutcome(result: { running?: number }): 'nothingRunning' | 'killRequested' {
  return result.running === 0 ? 'nothingRunning' : 'killRequested'
}

/** Row/detail actions shared by the task list and the task detail page. Each resolves true on success. */
export function useTaskActions(afterChange: () => unknown) {
  const { t } = useI18n()

  async function run<T>(action: () => Promise<T>, message: string): Promise<boolean> {
    try {
      await action()
      toastSuccess(message)
      await afterChange()
      return true
    } catch (error) {
      toastError(error)
      return false
    }
  }

  const toggle = (task: Task) =>
    run(() => setTaskStatus(task.id, task.status === 0 ? 1 : 0), task.status === 0 ? t('task.enabled') : t('task.disabled'))

  const trigger = (task: Task) => run(() => triggerTask(task.id), t('task.triggered'))

  async function kill(task: Task): Promise<boolean> {
    if (!(await confirmDanger(t('task.killConfirm', { name: task.name })))) return false
    try {
      const outcome = killOutcome(await killTask(task.id))
      if (outcome === 'nothingRunning') toastInfo(t('task.nothingRunning'))
      else toastSuccess(t('task.killRequested'))
      await afterChange()
      return true
    } catch (error) {
      toastError(error)
      return false
    }
  }

  async function remove(task: Task): Promise<boolean> {
    if (!(await confirmDanger(t('task.deleteConfirm', { name: task.name })))) return false
    return run(() => deleteTask(task.id), t('common.deleted'))
  }

  return { toggle, trigger, kill, remove }
}
