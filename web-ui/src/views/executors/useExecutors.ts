import { onMounted, reactive, ref, shallowRef } from 'vue'
import { departmentTree } from '@/api/departments'
import { createExecutor, deleteExecutor, listExecutors, updateExecutor, type Executor, type ExecutorKind } from '@/api/executors'
import type { Department } from '@/api/types'
import { i18n } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { confirmDanger, toastError, toastSuccess } from '@/utils/feedback'
import { useFieldErrors } from '@/utils/form'
import { filterCodecs, usePagedList } from '@/utils/usePagedList'
import {
  EXECUTOR_FORM_PROPS,
  emptyExecutorForm,
  executorToForm,
  formToCreateInput,
  formToFields,
  validateExecutorForm,
  type ExecutorForm,
} from './executorForm'

export interface ExecutorFilters {
  name: string
  kind: ExecutorKind | undefined
  departmentId: number | undefined
}

/** What `GET /executors?sort=` takes (docs/api.md "Sorting"). */
export const EXECUTOR_SORTS = ['id', 'name', 'kind', 'address', 'weight', 'status', 'source', 'lastHeartbeat', 'createTime', 'updateTime'] as const

/** The Executors page: list with filters, create/edit dialog (static and DNS entries), drain switch, delete. */
export function useExecutors() {
  const t = i18n.global.t
  const auth = useAuthStore()
  const list = usePagedList<Executor, ExecutorFilters>({
    filters: { name: filterCodecs.text(128), kind: filterCodecs.oneOf<ExecutorKind>(['grpc', 'http']), departmentId: filterCodecs.id() },
    sorts: EXECUTOR_SORTS,
    size: 20,
    fetch: (params, f) => listExecutors({ ...params, name: f.name.trim() || undefined, kind: f.kind, departmentId: f.departmentId }),
  })
  const { filters, rows, load, search } = list
  const tree = shallowRef<Department[]>([])
  const dialogOpen = ref(false)
  const saving = ref(false)
  /** Messages the form has no field for (4003, 4009, unknown keys). */
  const banner = ref<string[]>([])
  const form = reactive<ExecutorForm>(emptyExecutorForm())
  const fieldErrors = useFieldErrors(EXECUTOR_FORM_PROPS, {}, form)
  /** Rows whose drain switch is in flight. */
  const busy = reactive(new Set<number>())

  const canManage = () => auth.can('executor:manage')

  function reset(): Promise<void> {
    Object.assign(filters, { name: '', kind: undefined, departmentId: undefined })
    return search()
  }

  function openCreate(): void {
    fieldErrors.clear()
    banner.value = []
    Object.assign(form, emptyExecutorForm(filters.departmentId ?? auth.user?.departmentId ?? tree.value[0]?.id ?? null))
    dialogOpen.value = true
  }

  function openEdit(entry: Executor): void {
    fieldErrors.clear()
    banner.value = []
    Object.assign(form, executorToForm(entry))
    dialogOpen.value = true
  }

  /** Returns true when saved. Client checks first; server field errors land on their form items. */
  async function save(): Promise<boolean> {
    fieldErrors.clear()
    banner.value = []
    const local = validateExecutorForm(form, t)
    if (Object.keys(local).length) {
      Object.assign(fieldErrors.errors, Object.fromEntries(Object.entries(local).map(([k, v]) => [k, v.join('; ')])))
      return false
    }
    saving.value = true
    try {
      if (form.id === null) await createExecutor(formToCreateInput(form))
      else await updateExecutor(form.id, formToFields(form))
      toastSuccess()
      dialogOpen.value = false
      await load()
      return true
    } catch (error) {
      const unmatched = fieldErrors.apply(error)
      banner.value = unmatched === null ? [error instanceof Error ? error.message : String(error)] : unmatched
      return false
    } finally {
      saving.value = false
    }
  }

  /** Drain (down) or bring back (up) an entry; a heartbeat does not undo a drain. */
  async function setStatus(entry: Executor, up: boolean): Promise<void> {
    busy.add(entry.id)
    try {
      const fresh = await updateExecutor(entry.id, { status: up ? 'up' : 'down' })
      rows.value = rows.value.map((row) => (row.id === fresh.id ? fresh : row))
      toastSuccess(up ? t('executor.undrained') : t('executor.drained'))
    } catch (error) {
      toastError(error)
    } finally {
      busy.delete(entry.id)
    }
  }

  async function remove(entry: Executor): Promise<void> {
    const key = entry.source === 'self' ? 'executor.deleteSelfConfirm' : 'executor.deleteConfirm'
    if (!(await confirmDanger(t(key, { name: `${entry.name} ${entry.address}` })))) return
    try {
      await deleteExecutor(entry.id)
      toastSuccess(t('common.deleted'))
      await load()
    } catch (error) {
      toastError(error)
    }
  }

  async function loadTree(): Promise<void> {
    try {
      tree.value = await departmentTree()
    } catch (error) {
      toastError(error)
    }
  }

  onMounted(loadTree)

  return {
    ...list, loadError: list.error, tree, dialogOpen, saving, banner, form, errors: fieldErrors.errors, busy,
    canManage, reset, openCreate, openEdit, save, setStatus, remove,
  }
}
