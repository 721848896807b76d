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
/** Parents are found by reading the task list (no API names them yet): at most this many pages of 100. */
export const PARENT_SCAN_PAGES = 10

/**
 * The tasks (of those `listTasks` shows the user) that name `id` among their child tasks. The API has no
 * "parents of" query, so the list is read in pages of 100; `partial` when it held more than the scan reads.
 */
export async function findParentTasks(id: number): Promise<{ parents: { id: number; name: string }[]; partial: boolean }> {
  const parents: { id: number; name: string }[] = []
  for (let page = 1; page <= PARENT_SCAN_PAGES; page++) {
    const result = await listTasks({ page, size: 100 })
    for (const task of result.list) if (task.childTaskIds?.includes(id)) parents.push({ id: task.id, name: task.name })
    if (page * 100 >= result.total || result.list.length === 0) return { parents, partial: false }
  }
  return { parents, partial: true }
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
