import { shallowRef } from 'vue'
import { departmentTree } from '@/api/departments'
import { listTasks, type TaskRow } from '@/api/tasks'
import type { Department, TaskStatus, TaskType } from '@/api/types'
import { toastError } from '@/utils/feedback'
import { filterCodecs, usePagedList } from '@/utils/usePagedList'

export interface TaskFilters {
  keyword: string
  departmentId: number | undefined
  taskType: TaskType | undefined
  status: TaskStatus | undefined
}

/** What `GET /tasks?sort=` takes (docs/api.md "Sorting"): the columns the list sorts by. */
export const TASK_SORTS = ['id', 'name', 'taskType', 'status', 'nextExecuteTime', 'lastExecuteTime', 'createTime', 'updateTime'] as const

export const TASK_FILTERS = {
  keyword: filterCodecs.text(),
  departmentId: filterCodecs.id(),
  taskType: filterCodecs.oneOf<TaskType>(['HTTP', 'GRPC', 'SHELL']),
  status: filterCodecs.oneOf<TaskStatus>([0, 1, 2]),
}

/** The task list: filters, page, size and sort in the URL (`?keyword=&status=1&sort=-nextExecuteTime&page=2`). */
export function useTaskList() {
  const list = usePagedList<TaskRow, TaskFilters>({
    filters: TASK_FILTERS,
    sorts: TASK_SORTS,
    fetch: (params, f) => listTasks({
      ...params,
      keyword: f.keyword.trim() || undefined,
      departmentId: f.departmentId,
      taskType: f.taskType,
      status: f.status,
    }),
  })
  const tree = shallowRef<Department[]>([])

  // Asked for beside the first page, while the page is being set up (usePagedList).
  void departmentTree().then((departments) => (tree.value = departments), toastError)

  return { ...list, loadError: list.error, tree }
}
