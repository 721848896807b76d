import { shallowRef, watch, type Ref } from 'vue'
import { listAlertPolicies } from '@/api/alerts'
import type { AlertPolicy, Task } from '@/api/types'

/**
 * The policy that decides a task's alerts: its own, else its department's default. (A department without a
 * default inherits the nearest ancestor's; the card says so rather than walking the tree.)
 */
export function useTaskAlerts(task: Ref<Pick<Task, 'id' | 'departmentId'> | null>) {
  const own = shallowRef<AlertPolicy | null>(null)
  const inherited = shallowRef<AlertPolicy | null>(null)
  const loaded = shallowRef(false)
  const failed = shallowRef(false)

  async function load(): Promise<void> {
    const current = task.value
    if (!current) return
    try {
      const mine = await listAlertPolicies({ taskId: current.id, scope: 'task', page: 1, size: 1 })
      own.value = mine.list[0] ?? null
      inherited.value = null
      if (!own.value) {
        const defaults = await listAlertPolicies({ departmentId: current.departmentId, scope: 'department', page: 1, size: 1 })
        inherited.value = defaults.list[0] ?? null
      }
      failed.value = false
    } catch {
      failed.value = true
    } finally {
      loaded.value = true
    }
  }

  // The detail page refreshes its task every 2 s: reload only when the task or its department changes.
  watch(() => (task.value ? `${task.value.id}:${task.value.departmentId}` : ''), (key) => key && void load(), { immediate: true })

  return { own, inherited, loaded, failed, load }
}
