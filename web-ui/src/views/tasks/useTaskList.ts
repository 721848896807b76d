import { onMounted, reactive, ref, shallowRef } from 'vue'
import { departmentTree } from '@/api/departments'
import { listTasks } from '@/api/tasks'
import type { Department, Task, TaskStatus, TaskType } from '@/api/types'
import { errorText, toastError } from '@/utils/feedback'

export interface TaskFilters {
  keyword: string
  departmentId: number | undefined
  taskType: TaskType | undefined
  status: TaskStatus | undefined
}

export function useTaskList() {
  const filters = reactive<TaskFilters>({ keyword: '', departmentId: undefined, taskType: undefined, status: undefined })
  const page = ref(1)
  const size = ref(10)
  const total = ref(0)
  const rows = shallowRef<Task[]>([])
  const tree = shallowRef<Department[]>([])
  const loading = ref(false)
  /** Why the list could not be loaded (shown with Retry instead of "No Data"); null when it was. */
  const loadError = ref<string | null>(null)

  async function load(): Promise<void> {
    loading.value = true
    loadError.value = null
    try {
      const result = await listTasks({
        page: page.value,
        size: size.value,
        keyword: filters.keyword.trim() || undefined,
        departmentId: filters.departmentId ?? undefined,
        taskType: filters.taskType || undefined,
        status: filters.status,
      })
      rows.value = result.list
      total.value = result.total
    } catch (error) {
      rows.value = []
      total.value = 0
      loadError.value = errorText(error)
    } finally {
      loading.value = false
    }
  }

  function search(): Promise<void> {
    page.value = 1
    return load()
  }

  function reset(): Promise<void> {
    Object.assign(filters, { keyword: '', departmentId: undefined, taskType: undefined, status: undefined })
    return search()
  }

  onMounted(async () => {
    await load()
    try {
      tree.value = await departmentTree()
    } catch (error) {
      toastError(error)
    }
  })

  return { filters, page, size, total, rows, tree, loading, loadError, load, search, reset }
}
