import { computed, onMounted, reactive, ref, shallowRef } from 'vue'
import { departmentTree } from '@/api/departments'
import { listRecords } from '@/api/records'
import type { Department, RecordStatus, TaskRecord, TaskType, TriggerType } from '@/api/types'
import { toastError } from '@/utils/feedback'
import { currentMonth, monthKey, parseMonthKey } from '@/utils/format'

export interface RecordFilters {
  taskId: number | undefined
  departmentId: number | undefined
  status: RecordStatus | undefined
  taskType: TaskType | undefined
  triggerType: TriggerType | undefined
}

export function useRecords(initial: { taskId?: number } = {}) {
  const month = ref(monthKey(currentMonth()))
  const ym = computed(() => parseMonthKey(month.value) ?? currentMonth())
  const filters = reactive<RecordFilters>({
    taskId: initial.taskId,
    departmentId: undefined,
    status: undefined,
    taskType: undefined,
    triggerType: undefined,
  })
  const page = ref(1)
  const size = ref(20)
  const total = ref(0)
  const rows = shallowRef<TaskRecord[]>([])
  const tree = shallowRef<Department[]>([])
  const loading = ref(false)

  async function load(): Promise<void> {
    loading.value = true
    try {
      const result = await listRecords({
        ...ym.value,
        page: page.value,
        size: size.value,
        taskId: filters.taskId || undefined,
        departmentId: filters.departmentId ?? undefined,
        status: filters.status,
        taskType: filters.taskType || undefined,
        triggerType: filters.triggerType || undefined,
      })
      rows.value = result.list
      total.value = result.total
    } catch (error) {
      toastError(error)
    } finally {
      loading.value = false
    }
  }

  function search(): Promise<void> {
    page.value = 1
    return load()
  }

  function reset(): Promise<void> {
    Object.assign(filters, { taskId: undefined, departmentId: undefined, status: undefined, taskType: undefined, triggerType: undefined })
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

  return { month, ym, filters, page, size, total, rows, tree, loading, load, search, reset }
}
