import { reactive, ref, shallowRef } from 'vue'
import { useI18n } from 'vue-i18n'
import { triggerTask, type TriggerOverrides } from '@/api/tasks'
import type { Task } from '@/api/types'
import { errorText, toastSuccess } from '@/utils/feedback'
import { useFieldErrors } from '@/utils/form'
import { jsonObjectError } from './taskForm'

/**
 * The dialog's form: which of the one-off overrides of a manual run (`POST /tasks/{id}/trigger`, TriggerInput) to
 * send — the body and headers of an HTTP task, the request parameters of a gRPC task; SHELL runs take none. An
 * override replaces the task's value for that run only (headers are not merged).
 */
export interface RunParamsForm {
  overrideBody: boolean
  body: string
  overrideHeaders: boolean
  /** A JSON object of header name -> value. */
  headers: string
  overrideParams: boolean
  /** A JSON object. */
  grpcParams: string
}

const pretty = (value: unknown): string => (value === null || value === undefined ? '' : JSON.stringify(value, null, 2))

/** The dialog's fields, each prefilled with the task's own value and not overridden. */
export function runParamsFormFor(task: Task): RunParamsForm {
  let params: unknown = task.grpcParams
  if (typeof params === 'string') {
    try {
      params = JSON.parse(params)
    } catch {
      // shown as stored
    }
  }
  return {
    overrideBody: false,
    body: task.body ?? '',
    overrideHeaders: false,
    headers: pretty(task.headers ?? {}),
    overrideParams: false,
    grpcParams: typeof params === 'string' ? params : pretty(params ?? {}),
  }
}

/** Client checks of the overridden fields (the server checks them again): `{field: message}`. */
export function runParamsErrors(form: RunParamsForm): Record<string, string> {
  const errors: Record<string, string> = {}
  if (form.overrideHeaders) {
    const reason = jsonObjectError(form.headers.trim() ? form.headers : '{}')
    if (reason) errors.headers = reason
  }
  if (form.overrideParams) {
    const reason = jsonObjectError(form.grpcParams.trim() ? form.grpcParams : '{}')
    if (reason) errors.grpcParams = reason
  }
  return errors
}

/** The request body: only the fields the user chose to override, for the task's type. */
export function runOverrides(task: Task, form: RunParamsForm): TriggerOverrides {
  const overrides: TriggerOverrides = {}
  if (task.taskType === 'HTTP') {
    if (form.overrideBody) overrides.body = form.body
    if (form.overrideHeaders) overrides.headers = form.headers.trim() ? (JSON.parse(form.headers) as Record<string, string>) : {}
  } else if (task.taskType === 'GRPC' && form.overrideParams) {
    overrides.grpcParams = form.grpcParams.trim() ? (JSON.parse(form.grpcParams) as Record<string, unknown>) : {}
  }
  return overrides
}

/** "Run with parameters": edit the overrides, confirm what will be sent, run; server field errors on the fields. */
export function useRunWithParams(afterRun: () => unknown = () => undefined) {
  const { t } = useI18n()
  const open = ref(false)
  const step = ref<'edit' | 'confirm'>('edit')
  const task = shallowRef<Task | null>(null)
  const form = reactive<RunParamsForm>({
    overrideBody: false, body: '', overrideHeaders: false, headers: '', overrideParams: false, grpcParams: '',
  })
  const { errors, clear, apply } = useFieldErrors(['body', 'headers', 'grpcParams'], {}, form)
  const banner = ref<string[]>([])
  const sending = ref(false)

  function show(target: Task): void {
    task.value = target
    Object.assign(form, runParamsFormFor(target))
    clear()
    banner.value = []
    step.value = 'edit'
    open.value = true
  }

  /** To the confirmation step, when the overridden fields pass the client checks. */
  function review(): boolean {
    clear()
    banner.value = []
    const found = runParamsErrors(form)
    Object.assign(errors, found)
    if (Object.keys(found).length) return false
    step.value = 'confirm'
    return true
  }

  async function run(): Promise<boolean> {
    if (!task.value) return false
    sending.value = true
    try {
      await triggerTask(task.value.id, runOverrides(task.value, form))
      open.value = false
      toastSuccess(t('task.triggered'))
      await afterRun()
      return true
    } catch (error) {
      const unmatched = apply(error)
      banner.value = unmatched ?? [errorText(error)]
      step.value = 'edit'
      return false
    } finally {
      sending.value = false
    }
  }

  return { open, step, task, form, errors, banner, sending, show, review, run }
}
