/**
 * Task form logic, free of Vue: the form model, task -> form (edit), form -> request body for
 * `POST/PUT /tasks/http`, `/tasks/grpc` and `/tasks/shell`, and the client-side checks the server would
 * refuse anyway.
 */
import type { FieldErrors } from '@/api/http'
import type {
  ConcurrencyPolicy,
  GrpcTaskInput,
  HttpTaskInput,
  MisfirePolicy,
  RouteStrategy,
  ShellTaskInput,
  Task,
  TaskStatus,
} from '@/api/types'

export type FormTaskType = 'HTTP' | 'GRPC' | 'SHELL'

/** The methods the form offers (the API's `httpMethod` is a string: one of these, in any case). */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface HeaderRow {
  name: string
  value: string
}

/** One environment variable of a SHELL task. */
export type EnvRow = HeaderRow

export interface TaskFormModel {
  taskType: FormTaskType
  name: string
  description: string
  departmentId: number | null
  cron: string
  timezone: string
  status: TaskStatus
  timeout: number
  retryCount: number
  retryInterval: number
  concurrencyPolicy: ConcurrencyPolicy
  misfirePolicy: MisfirePolicy
  /** HTTP and gRPC: which registered instance gets a call to an executor name. */
  routeStrategy: RouteStrategy
  // HTTP
  url: string
  httpMethod: HttpMethod
  headers: HeaderRow[]
  body: string
  fallbackUrl: string
  // gRPC
  grpcService: string
  grpcMethod: string
  /** A JSON object as text (validated before sending). */
  grpcParams: string
  fallbackGrpcService: string
  fallbackGrpcMethod: string
  // SHELL
  shellCommand: string
  /** One entry per argv element, sent exactly as typed (an empty row is an empty argument). */
  shellArgs: string[]
  shellWorkdir: string
  shellEnv: EnvRow[]
  /** Tasks to run after each successful run, in order (any type). */
  childTaskIds: number[]
}

export const HTTP_METHODS: HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
export const CONCURRENCY_POLICIES: ConcurrencyPolicy[] = ['allow', 'forbid', 'replace']
export const MISFIRE_POLICIES: MisfirePolicy[] = ['skip', 'fire_once', 'fire_all']
export const ROUTE_STRATEGIES: RouteStrategy[] = ['round_robin', 'random', 'first', 'consistent_hash', 'least_busy', 'failover', 'broadcast']

/** A target that names the executor registry (`orders.Billing`, `executor://billing/run`), not an address. */
export function namesRegistry(taskType: FormTaskType, target: string): boolean {
  const text = target.trim()
  if (taskType === 'HTTP') return text.toLowerCase().startsWith('executor://')
  if (taskType === 'GRPC') return text.includes('.') && !text.includes('/') && !text.includes(':')
  return false
}

/** Form-item props; server `data.fields` keys with the same name land on them. */
export const TASK_FORM_PROPS = [
  'name',
  'description',
  'departmentId',
  'cron',
  'timezone',
  'status',
  'timeout',
  'retryCount',
  'retryInterval',
  'concurrencyPolicy',
  'misfirePolicy',
  'routeStrategy',
  'url',
  'httpMethod',
  'headers',
  'body',
  'fallbackUrl',
  'grpcService',
  'grpcMethod',
  'grpcParams',
  'fallbackGrpcService',
  'fallbackGrpcMethod',
  'shellCommand',
  'shellArgs',
  'shellWorkdir',
  'shellEnv',
  'childTaskIds',
] as const

/** The server's limit on child tasks (apps/tasks/api/serializers.py MAX_CHILDREN). */
export const MAX_CHILDREN = 20

export function emptyTaskForm(
  taskType: FormTaskType,
  defaults: { timezone: string; departmentId: number | null },
): TaskFormModel {
  return {
    taskType,
    name: '',
    description: '',
    departmentId: defaults.departmentId,
    cron: '0 * * * *',
    timezone: defaults.timezone,
    status: 1,
    timeout: 30,
    retryCount: 0,
    retryInterval: 0,
    concurrencyPolicy: 'allow',
    misfirePolicy: 'skip',
    routeStrategy: 'round_robin',
    url: '',
    httpMethod: 'GET',
    headers: [],
    body: '',
    fallbackUrl: '',
    grpcService: '',
    grpcMethod: '',
    grpcParams: '',
    fallbackGrpcService: '',
    fallbackGrpcMethod: '',
    shellCommand: '',
    shellArgs: [],
    shellWorkdir: '',
    shellEnv: [],
    childTaskIds: [],
  }
}

function prettyJson(text: string | null): string {
  if (!text) return ''
  try {
    const value = JSON.parse(text)
    return value && typeof value === 'object' && Object.keys(value).length === 0 ? '' : JSON.stringify(value, null, 2)
  } catch {
    return text
  }
}

const FORM_TASK_TYPES: readonly string[] = ['HTTP', 'GRPC', 'SHELL'] satisfies FormTaskType[]

export function taskToForm(task: Task): TaskFormModel {
  if (!FORM_TASK_TYPES.includes(task.taskType)) {
    throw new Error(`${task.taskType} tasks cannot be edited in the console`)
  }
  const base = emptyTaskForm(task.taskType, { timezone: task.timezone, departmentId: task.departmentId })
  return {
    ...base,
    name: task.name,
    description: task.description ?? '',
    cron: task.cron,
    status: task.status,
    timeout: task.timeout,
    retryCount: task.retryCount,
    retryInterval: task.retryInterval,
    concurrencyPolicy: task.concurrencyPolicy,
    misfirePolicy: task.misfirePolicy,
    routeStrategy: task.routeStrategy ?? 'round_robin',
    url: task.url ?? '',
    httpMethod: (HTTP_METHODS as string[]).includes(task.httpMethod) ? (task.httpMethod as HttpMethod) : 'GET',
    headers: Object.entries(task.headers ?? {}).map(([name, value]) => ({ name, value: String(value) })),
    body: task.body ?? '',
    fallbackUrl: task.fallbackUrl ?? '',
    grpcService: task.grpcService ?? '',
    grpcMethod: task.grpcMethod ?? '',
    grpcParams: prettyJson(task.grpcParams),
    fallbackGrpcService: task.fallbackGrpcService ?? '',
    fallbackGrpcMethod: task.fallbackGrpcMethod ?? '',
    shellCommand: task.shellCommand ?? '',
    shellArgs: [...(task.shellArgs ?? [])],
    shellWorkdir: task.shellWorkdir ?? '',
    shellEnv: Object.entries(task.shellEnv ?? {}).map(([name, value]) => ({ name, value: String(value) })),
    childTaskIds: [...(task.childTaskIds ?? [])],
  }
}

/** `null` when `text` is empty or a JSON object; otherwise the reason it is not one. */
export function jsonObjectError(text: string): string | null {
  if (!text.trim()) return null
  try {
    const value = JSON.parse(text)
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? null : 'must be a JSON object'
  } catch (e) {
    return `invalid JSON: ${(e as Error).message}`
  }
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/
/** The server's limits for SHELL tasks (apps/tasks/api/serializers.py ShellTaskInput). */
export const SHELL_LIMITS = { command: 1024, args: 200, arg: 8192, workdir: 1024, env: 100, envValue: 8192 } as const
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
const hasNul = (text: string) => text.includes('\0')

/** `null` when the rows are a valid environment (blank rows ignored); otherwise the first problem. */
export function envRowsError(rows: EnvRow[]): string | null {
  const seen = new Set<string>()
  let count = 0
  for (const row of rows) {
    const name = row.name.trim()
    if (!name && !row.value) continue
    if (!ENV_NAME.test(name)) return `invalid variable name ${JSON.stringify(row.name)}`
    if (name.toUpperCase().startsWith('DJS_')) return `variable ${JSON.stringify(name)}: names DJS_* are set by DJS`
    if (seen.has(name)) return `duplicate variable ${JSON.stringify(name)}`
    if (hasNul(row.value) || row.value.length > SHELL_LIMITS.envValue) {
      return `variable ${JSON.stringify(name)} must be a string without NUL characters, at most ${SHELL_LIMITS.envValue} characters`
    }
    seen.add(name)
    count += 1
  }
  return count > SHELL_LIMITS.env ? `at most ${SHELL_LIMITS.env} variables` : null
}

function shellErrors(form: TaskFormModel, errors: FieldErrors): void {
  if (hasNul(form.shellCommand)) errors.shellCommand = ['the command must not contain NUL characters']
  else if (form.shellCommand.trim().length > SHELL_LIMITS.command) {
    errors.shellCommand = [`at most ${SHELL_LIMITS.command} characters`]
  }
  if (form.shellArgs.length > SHELL_LIMITS.args) errors.shellArgs = [`at most ${SHELL_LIMITS.args} arguments`]
  else {
    const index = form.shellArgs.findIndex((arg) => hasNul(arg) || arg.length > SHELL_LIMITS.arg)
    if (index >= 0) {
      errors.shellArgs = [`argument ${index + 1} must be at most ${SHELL_LIMITS.arg} characters, without NUL characters`]
    }
  }
  const workdir = form.shellWorkdir.trim()
  if (workdir) {
    if (!workdir.startsWith('/')) errors.shellWorkdir = ['must be an absolute path']
    else if (hasNul(workdir)) errors.shellWorkdir = ['the working directory must not contain NUL characters']
    else if (workdir.length > SHELL_LIMITS.workdir) errors.shellWorkdir = [`at most ${SHELL_LIMITS.workdir} characters`]
  }
  const env = envRowsError(form.shellEnv)
  if (env) errors.shellEnv = [env]
}

/** `null` when the child list is acceptable to send; the server checks scope, cycles and depth. */
export function childTasksError(form: TaskFormModel, taskId: number | null): string | null {
  if (form.childTaskIds.length > MAX_CHILDREN) return `at most ${MAX_CHILDREN} child tasks`
  if (new Set(form.childTaskIds).size !== form.childTaskIds.length) return 'lists a task more than once'
  if (taskId !== null && form.childTaskIds.includes(taskId)) return 'a task cannot be its own child'
  return null
}

/** Checks the server would also make, done before sending so the message appears at once. */
export function validateTaskForm(form: TaskFormModel, taskId: number | null = null): FieldErrors {
  const errors: FieldErrors = {}
  const children = childTasksError(form, taskId)
  if (children) errors.childTaskIds = [children]
  if (form.taskType === 'SHELL') {
    shellErrors(form, errors)
  } else if (form.taskType === 'HTTP') {
    const seen = new Set<string>()
    for (const row of form.headers) {
      const name = row.name.trim()
      if (!name && !row.value) continue
      if (!HEADER_NAME.test(name)) {
        errors.headers = [`invalid header name ${JSON.stringify(row.name)}`]
        break
      }
      if (seen.has(name.toLowerCase())) {
        errors.headers = [`duplicate header ${JSON.stringify(name)}`]
        break
      }
      seen.add(name.toLowerCase())
    }
  } else {
    const reason = jsonObjectError(form.grpcParams)
    if (reason) errors.grpcParams = [reason]
    if (form.fallbackGrpcMethod.trim() && !form.fallbackGrpcService.trim()) {
      errors.fallbackGrpcService = ['required when fallbackGrpcMethod is set']
    }
  }
  return errors
}

const orNull = (value: string): string | null => (value.trim() ? value.trim() : null)

function common(form: TaskFormModel) {
  if (form.departmentId === null) throw new Error('departmentId is required')
  return {
    name: form.name.trim(),
    description: orNull(form.description),
    departmentId: form.departmentId,
    cron: form.cron.trim(),
    timezone: form.timezone,
    status: form.status,
    timeout: form.timeout,
    retryCount: form.retryCount,
    retryInterval: form.retryInterval,
    concurrencyPolicy: form.concurrencyPolicy,
    misfirePolicy: form.misfirePolicy,
    childTaskIds: [...form.childTaskIds],
  }
}

export type TaskRequest =
  | { taskType: 'HTTP'; body: HttpTaskInput }
  | { taskType: 'GRPC'; body: GrpcTaskInput }
  | { taskType: 'SHELL'; body: ShellTaskInput }

/** The request body for the form's task type; only that type's fields are sent (the API refuses unknown keys). */
export function formToRequest(form: TaskFormModel): TaskRequest {
  if (form.taskType === 'SHELL') {
    const env: Record<string, string> = {}
    for (const row of form.shellEnv) {
      if (row.name.trim()) env[row.name.trim()] = row.value
    }
    return {
      taskType: 'SHELL',
      body: {
        ...common(form),
        shellCommand: form.shellCommand.trim(),
        // Each row is one argv element: no trimming, no splitting (nothing parses them on the node either).
        shellArgs: [...form.shellArgs],
        shellWorkdir: orNull(form.shellWorkdir),
        shellEnv: Object.keys(env).length ? env : null,
      },
    }
  }
  if (form.taskType === 'HTTP') {
    const headers: Record<string, string> = {}
    for (const row of form.headers) {
      if (row.name.trim()) headers[row.name.trim()] = row.value
    }
    return {
      taskType: 'HTTP',
      body: {
        ...common(form),
        url: form.url.trim(),
        httpMethod: form.httpMethod,
        headers: Object.keys(headers).length ? headers : null,
        // A body is sent as typed (whitespace matters to some targets); empty means none.
        body: form.body === '' ? null : form.body,
        fallbackUrl: orNull(form.fallbackUrl),
        routeStrategy: form.routeStrategy,
      },
    }
  }
  const params = form.grpcParams.trim() ? (JSON.parse(form.grpcParams) as Record<string, unknown>) : null
  return {
    taskType: 'GRPC',
    body: {
      ...common(form),
      grpcService: form.grpcService.trim(),
      grpcMethod: form.grpcMethod.trim(),
      grpcParams: params,
      fallbackGrpcService: orNull(form.fallbackGrpcService),
      fallbackGrpcMethod: orNull(form.fallbackGrpcMethod),
      routeStrategy: form.routeStrategy,
    },
  }
}

const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/

/**
 * argv as one line for display only, each element quoted the way `sh` would need it to stay one word
 * (`'it'\''s'`). DJS never runs this line through a shell: the node starts argv as is.
 */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((arg) => (PLAIN_WORD.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ')
}

/** Ready-made schedules for the cron helper (label keys under `cron.presets`). */
export const CRON_PRESETS: { key: string; cron: string }[] = [
  { key: 'everyMinute', cron: '* * * * *' },
  { key: 'every5Minutes', cron: '*/5 * * * *' },
  { key: 'hourly', cron: '0 * * * *' },
  { key: 'daily2am', cron: '0 2 * * *' },
  { key: 'weekdays9am', cron: '0 9 * * 1-5' },
  { key: 'weeklyMonday', cron: '0 9 * * 1' },
  { key: 'monthlyFirst', cron: '0 0 1 * *' },
  { key: 'every30Seconds', cron: '@every 30s' },
  { key: 'every10SecondsQuartz', cron: '*/10 * * * * *' },
]
