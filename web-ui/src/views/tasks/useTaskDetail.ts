import { computed, onBeforeUnmount, onMounted, ref, shallowRef } from 'vue'
import { useRoute } from 'vue-router'
import { listRecords } from '@/api/records'
import { getTask, listTasks } from '@/api/tasks'
import type { Task, TaskRecord } from '@/api/types'
import { useAuthStore } from '@/stores/auth'
import { toastError } from '@/utils/feedback'
import { currentMonth } from '@/utils/format'

const REFRESH_MS = 2000
export const RECENT_RECORDS = 20
/** The graph draws at most this many parents (one page of the list); `partial` says there are more. */
export const PARENT_LIMIT = 100

/**
 * The tasks (of those `listTasks` shows the user) that name `id` among their child tasks: one list request
 * (`childOf`), the same cost whatever the number of tasks; `partial` when there are more than PARENT_LIMIT.
 */
export async function findParentTasks(id: number): Promise<{ parents: { id: number; name: string }[]; partial: boolean }> {
  const result = await listTasks({ childOf: id, page: 1, size: PARENT_LIMIT })
  return { parents: result.list.map((task) => ({ id: task.id, name: task.name })), partial: result.total > result.list.length }
}

/** One task and its most recent records of the current month, refreshed while the page is open. */
export function useTaskDetail() {
  const route = useRoute()
  const auth = useAuthStore()
  const id = computed(() => Number(route.params.id))
  const task = shallowRef<Task | null>(null)
  const records = shallowRef<TaskRecord[]>([])
  const recordTotal = ref(0)
  /** The task's child tasks in order (name unknown: null, e.g. deleted meanwhile). */
  const children = shallowRef<{ id: number; name: string | null }[]>([])
  /** Tasks whose success triggers this one (read once per visit: see findParentTasks). */
  const parents = shallowRef<{ id: number; name: string }[]>([])
  const parentsPartial = ref(false)
  const loading = ref(false)
  const missing = ref(false)
  const month = currentMonth()
  let timer: ReturnType<typeof setInterval> | undefined

  async function loadRecords(): Promise<void> {
    if (!auth.can('record:view')) return
    const page = await listRecords({ ...month, taskId: id.value, page: 1, size: RECENT_RECORDS })
    records.value = page.list
    recordTotal.value = page.total
  }

  async function loadChildren(ids: number[]): Promise<void> {
    const known = new Map(children.value.map((child) => [child.id, child.name]))
    const missingIds = ids.filter((childId) => !known.get(childId))
    const fetched = await Promise.allSettled(missingIds.map((childId) => getTask(childId)))
    fetched.forEach((result, index) => known.set(missingIds[index], result.status === 'fulfilled' ? result.value.name : null))
    children.value = ids.map((childId) => ({ id: childId, name: known.get(childId) ?? null }))
  }

  async function load(): Promise<void> {
    loading.value = true
    try {
      task.value = await getTask(id.value)
      await Promise.all([loadRecords(), loadChildren(task.value.childTaskIds ?? [])])
      void findParentTasks(id.value).then(
        (found) => {
          parents.value = found.parents
          parentsPartial.value = found.partial
        },
        () => undefined, // the graph then shows no parents; the page itself is fine
      )
    } catch (error) {
      missing.value = true
      toastError(error)
    } finally {
      loading.value = false
    }
  }

  async function poll(): Promise<void> {
    if (document.hidden || missing.value) return
    try {
      const [fresh] = await Promise.all([getTask(id.value), loadRecords()])
      task.value = fresh
      const ids = fresh.childTaskIds ?? []
      if (ids.join() !== children.value.map((child) => child.id).join()) await loadChildren(ids)
    } catch {
      // A transient error while polling is not worth a toast; the next tick retries.
    }
  }

  onMounted(async () => {
    await load()
    timer = setInterval(() => void poll(), REFRESH_MS)
  })
  onBeforeUnmount(() => clearInterval(timer))

  return { id, task, records, recordTotal, children, parents, parentsPartial, loading, missing, month, load, poll }
}
