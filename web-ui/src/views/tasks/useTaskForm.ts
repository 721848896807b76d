import { computed, onBeforeUnmount, reactive, ref, shallowRef, watch } from 'vue'
import { useI18n } from 'vue-i18n'
import { useRoute, useRouter } from 'vue-router'
import { departmentTree } from '@/api/departments'
import { isApiError } from '@/api/http'
import {
  createGrpcTask,
  createHttpTask,
  createShellTask,
  cronPreview,
  getTask,
  listTasks,
  updateGrpcTask,
  updateHttpTask,
  updateShellTask,
} from '@/api/tasks'
import type { Department, FireTime, Task } from '@/api/types'
import { useAuthStore } from '@/stores/auth'
import { usePlatformStore } from '@/stores/platform'
import { toastError, toastSuccess } from '@/utils/feedback'
import { useFieldErrors } from '@/utils/form'
import { cloneForm, cloneSource } from './taskBulk'
import { browserTimeZone } from '@/utils/format'
import {
  TASK_FORM_PROPS,
  emptyTaskForm,
  formToRequest,
  taskToForm,
  validateTaskForm,
  type FormTaskType,
  type TaskFormModel,
} from './taskForm'

const PREVIEW_DEBOUNCE_MS = 350
export const PREVIEW_COUNT = 5
/** Tasks one child-task search offers (the select searches the server by name as the user types). */
export const CHILD_SEARCH_SIZE = 50

/** A task offered in the "Child tasks" select. */
export interface ChildOption {
  id: number
  name: string
  departmentName: string
}

export function useTaskForm() {
  const route = useRoute()
  const router = useRouter()
  const auth = useAuthStore()
  const taskId = computed(() => (route.params.id ? Number(route.params.id) : null))
  const isEdit = computed(() => taskId.value !== null)
  /** A new task copied from another (the task list's Clone: ?clone=<id>): the create form opens with its values. */
  const cloneId = computed(() => (isEdit.value ? null : cloneSource(route.query)))
  const { t } = useI18n()
  /** SHELL is offered only to holders of task:shell (the API refuses the others anyway). */
  const canShell = computed(() => auth.can('task:shell'))
  /** job.shell.enabled (GET /v1/features): while off, SHELL is shown disabled with the reason. */
  const platform = usePlatformStore()
  const shellEnabled = computed(() => platform.shellEnabled)
  const initialType: FormTaskType =
    route.query.type === 'GRPC'
      ? 'GRPC'
      : route.query.type === 'SHELL' && canShell.value && shellEnabled.value
        ? 'SHELL'
        : 'HTTP'

  const form = reactive<TaskFormModel>(
    emptyTaskForm(initialType, { timezone: browserTimeZone(), departmentId: auth.user?.departmentId ?? null }),
  )
  const original = shallowRef<Task | null>(null)
  const tree = shallowRef<Department[]>([])
  const loading = ref(false)
  const saving = ref(false)
  const banner = ref<string[]>([])
  const { errors, apply, clear } = useFieldErrors(TASK_FORM_PROPS, {}, form)
  // The features may answer after the form opened on ?type=SHELL: a new task then falls back to HTTP.
  void platform.load().then(() => {
    if (!isEdit.value && !platform.shellEnabled && form.taskType === 'SHELL') form.taskType = 'HTTP'
  })

  // Child tasks: tasks the user can see, never this one; the chosen ones stay listed (with their names).
  const childOptions = shallowRef<ChildOption[]>([])
  const childLoading = ref(false)
  const knownTasks = new Map<number, ChildOption>()
  const toOption = (task: Task): ChildOption => ({ id: task.id, name: task.name, departmentName: task.departmentName })

  async function searchChildren(keyword = ''): Promise<void> {
    childLoading.value = true
    try {
      const page = await listTasks({ keyword: keyword.trim() || undefined, page: 1, size: CHILD_SEARCH_SIZE })
      for (const task of page.list) knownTasks.set(task.id, toOption(task))
      const found = new Set(page.list.map((task) => task.id))
      const chosen = form.childTaskIds
        .filter((id) => !found.has(id))
        .map((id) => knownTasks.get(id) ?? { id, name: `#${id}`, departmentName: '' })
      childOptions.value = [...chosen, ...page.list.map(toOption)].filter((option) => option.id !== taskId.value)
    } catch {
      // Without task:view the select still shows the chosen tasks; the server checks every id anyway.
      childOptions.value = form.childTaskIds.map((id) => knownTasks.get(id) ?? { id, name: `#${id}`, departmentName: '' })
    } finally {
      childLoading.value = false
    }
  }

  async function loadChildNames(ids: number[]): Promise<void> {
    const tasks = await Promise.allSettled(ids.filter((id) => !knownTasks.has(id)).map((id) => getTask(id)))
    for (const result of tasks) if (result.status === 'fulfilled') knownTasks.set(result.value.id, toOption(result.value))
  }

  // Live preview of the next fire times, in the task's own time zone.
  const preview = shallowRef<FireTime[]>([])
  const previewError = ref('')
  const previewLoading = ref(false)
  let previewTimer: ReturnType<typeof setTimeout> | undefined
  let previewAbort: AbortController | null = null

  async function runPreview(): Promise<void> {
    previewAbort?.abort()
    const cron = form.cron.trim()
    if (!cron) {
      preview.value = []
      previewError.value = ''
      return
    }
    const abort = new AbortController()
    previewAbort = abort
    previewLoading.value = true
    try {
      const result = await cronPreview(cron, form.timezone, PREVIEW_COUNT, undefined, abort.signal)
      if (abort.signal.aborted) return
      preview.value = result.list
      previewError.value = ''
    } catch (error) {
      if (abort.signal.aborted || (error as Error)?.name === 'AbortError') return
      preview.value = []
      previewError.value = isApiError(error)
        ? (error.fields.cron ?? error.fields.timezone ?? [error.message]).join('; ')
        : String(error)
    } finally {
      if (previewAbort === abort) previewLoading.value = false
    }
  }

  watch(
    () => [form.cron, form.timezone],
    () => {
      clearTimeout(previewTimer)
      previewTimer = setTimeout(() => void runPreview(), PREVIEW_DEBOUNCE_MS)
    },
  )
  onBeforeUnmount(() => {
    clearTimeout(previewTimer)
    previewAbort?.abort()
  })

  async function load(): Promise<void> {
    loading.value = true
    try {
      const [departments, task] = await Promise.all([
        departmentTree(),
        taskId.value !== null ? getTask(taskId.value) : cloneId.value !== null ? getTask(cloneId.value) : Promise.resolve(null),
      ])
      tree.value = departments
      if (task && isEdit.value) {
        original.value = task
        Object.assign(form, taskToForm(task))
        await loadChildNames(form.childTaskIds)
      } else if (task) {
        Object.assign(form, cloneForm(task, t('task.list.cloneSuffix')))
        await loadChildNames(form.childTaskIds)
      } else if (form.departmentId === null && departments[0]) {
        form.departmentId = departments[0].id
      }
    } catch (error) {
      toastError(error)
    } finally {
      loading.value = false
    }
    await Promise.all([runPreview(), searchChildren()])
  }

  /** Returns true when saved. Server field errors land on their form items; others in the banner. */
  async function submit(): Promise<boolean> {
    clear()
    banner.value = []
    const local = validateTaskForm(form, taskId.value)
    if (Object.keys(local).length) {
      Object.assign(errors, Object.fromEntries(Object.entries(local).map(([k, v]) => [k, v.join('; ')])))
      return false
    }
    saving.value = true
    try {
      const request = formToRequest(form)
      let saved: Task
      if (request.taskType === 'HTTP') {
        saved = taskId.value !== null ? await updateHttpTask(taskId.value, request.body) : await createHttpTask(request.body)
      } else if (request.taskType === 'SHELL') {
        saved = taskId.value !== null ? await updateShellTask(taskId.value, request.body) : await createShellTask(request.body)
      } else {
        saved = taskId.value !== null ? await updateGrpcTask(taskId.value, request.body) : await createGrpcTask(request.body)
      }
      toastSuccess()
      await router.push({ name: 'task-detail', params: { id: saved.id } })
      return true
    } catch (error) {
      const unmatched = apply(error)
      if (unmatched === null) toastError(error)
      else banner.value = unmatched
      return false
    } finally {
      saving.value = false
    }
  }

  function addHeader(): void {
    form.headers.push({ name: '', value: '' })
  }

  function removeHeader(index: number): void {
    form.headers.splice(index, 1)
  }

  function addArg(): void {
    form.shellArgs.push('')
  }

  function removeArg(index: number): void {
    form.shellArgs.splice(index, 1)
  }

  function addEnv(): void {
    form.shellEnv.push({ name: '', value: '' })
  }

  function removeEnv(index: number): void {
    form.shellEnv.splice(index, 1)
  }

  return {
    form,
    original,
    tree,
    isEdit,
    canShell,
    shellEnabled,
    loading,
    saving,
    banner,
    errors,
    preview,
    previewError,
    previewLoading,
    childOptions,
    childLoading,
    searchChildren,
    load,
    submit,
    addHeader,
    removeHeader,
    addArg,
    removeArg,
    addEnv,
    removeEnv,
  }
}
