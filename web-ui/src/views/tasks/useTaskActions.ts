import { useI18n } from 'vue-i18n'
import { deleteTask, killTask, setTaskStatus, triggerTask } from '@/api/tasks'
import type { Task } from '@/api/types'
import { confirmDanger, toastError, toastSuccess } from '@/utils/feedback'

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
    return run(() => killTask(task.id), t('task.killRequested'))
  }

  async function remove(task: Task): Promise<boolean> {
    if (!(await confirmDanger(t('task.deleteConfirm', { name: task.name })))) return false
    return run(() => deleteTask(task.id), t('common.deleted'))
  }

  return { toggle, trigger, kill, remove }
}
