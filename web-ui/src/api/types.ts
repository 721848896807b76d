/**
 * Names for the `/v1` API shapes the console uses (camelCase JSON, ISO-8601 UTC times), all taken from
 * ./schema.gen.ts, which is GENERATED from the platform's OpenAPI schema (`make schema-ts`; docs/console.md
 * "API types are generated"). Nothing here describes a field: to change a shape, change the serializer or its
 * schema annotation (djs_platform/openapi.py), regenerate, and let vue-tsc show what the console must follow.
 */
import type { components, operations } from './schema.gen'

type Schemas = components['schemas']

/** The `data` of an operation's success answer (`http` unwraps the `{code, message, data}` envelope). */
export type ApiData<O extends keyof operations> =
  operations[O]['responses'] extends { 200: { content: { 'application/json': { data: infer D } } } } ? D : never

/** An operation's query parameters. */
export type ApiQuery<O extends keyof operations> = NonNullable<operations[O]['parameters']['query']>

/** The page envelope of every paged list (`GET /records` adds cursor fields: RecordPage). */
export type Page<T> = Omit<ApiData<'roles_list'>, 'list'> & { list: T[] }
export type PageQuery = Pick<ApiQuery<'roles_list'>, 'page' | 'size'>

// --- accounts, departments ---------------------------------------------------------------------------------------
export type User = Schemas['UserOutput']
export type UserInfo = Schemas['UserInfoOutput']
export type LoginResult = Schemas['TokenOutput']
/** 0 disabled, 1 enabled (users, roles, permissions, departments). */
export type Status01 = User['status']
/** `children` only in the tree answer (`GET /departments?tree=true`). */
export type Department = Schemas['DepartmentOutput']
/** `name` as stored (the seed's name); `label` the same in the request's language (Accept-Language). */
export type Permission = Schemas['PermissionOutput']
export type Role = Schemas['RoleOutput']

// --- tasks ---------------------------------------------------------------------------------------------------------
export type Task = Schemas['TaskOutput']
export type TaskType = Task['taskType']
/** 0 disabled, 1 enabled, 2 one-shot (fires once, then disables itself). */
export type TaskStatus = Task['status']
export type ConcurrencyPolicy = Task['concurrencyPolicy']
export type MisfirePolicy = Task['misfirePolicy']
/** Which registered instance gets a call when the target is an executor name (docs/executors.md). */
export type RouteStrategy = Task['routeStrategy']
export type HttpTaskInput = Schemas['HttpTaskInputRequest']
export type GrpcTaskInput = Schemas['GrpcTaskInputRequest']
/** Each `shellArgs` item is one argv element: nothing splits or expands it (shell syntax needs `sh`, `-c`). */
export type ShellTaskInput = Schemas['ShellTaskInputRequest']
export type TaskQuery = ApiQuery<'tasks_list'>
export type FireTime = Schemas['FireTime']
export type CronPreview = Schemas['CronPreviewOutput']

// --- records -------------------------------------------------------------------------------------------------------
export type TaskRecord = Schemas['RecordOutput']
/** 0 running (startTime null: claimed, waiting for its instant), 1 success, 2 failed, 3 killed, 4 skipped, 5 lost. */
export type RecordStatus = TaskRecord['status']
/** CHILD: run after the parent task's run (`parentRecordId`) succeeded. */
export type TriggerType = TaskRecord['triggerType']
/** One call of an execution (a record's `attempts`): attempt 0 is the first try; target primary or fallback. */
export type RecordAttempt = Schemas['RecordAttempt']
/** One slice of a SHELL execution's log (bytes `[offset, nextOffset)` of the file, decoded as UTF-8). */
export type RecordLog = Schemas['RecordLogOutput']
export type MonthQuery = ApiQuery<'records_retrieve'>
export type LogQuery = Omit<ApiQuery<'records_log_retrieve'>, keyof MonthQuery>
export type RecordQuery = ApiQuery<'records_list'>
/** `GET /records`, newest first: `?page=` reaches 10,000 rows deep, `nextCursor` continues at any depth (docs/records.md). */
export type RecordPage = ApiData<'records_list'>
export type RecordStats = Schemas['RecordStats']
/** One platform-zone local day of `/records/stats` (`total` includes running, killed, skipped and lost). */
export type DailyStat = Schemas['DailyStat']

// --- scheduler, system -----------------------------------------------------------------------------------------
export type SchedulerNode = Schemas['NodeOutput']
/** Maintenance mode (`GET /scheduler/state`): while paused no node starts scheduled fires or manual runs. */
export type SchedulerState = Schemas['SchedulerStateOutput']
export type AuditLog = Schemas['AuditLogOutput']
export type AuditQuery = ApiQuery<'audit_logs_list'>

// --- alerts --------------------------------------------------------------------------------------------------------
/** A task's own alert policy (taskId set) or a department default (taskId null) (docs/alerts.md). */
export type AlertPolicy = Schemas['AlertPolicyOutput']
/** Update body; a field left out keeps its value. */
export type AlertPolicyFields = Schemas['AlertPolicyUpdateInputRequest']
/** Exactly one of taskId (needs task:update) and departmentId (needs department:manage). */
export type AlertPolicyCreateInput = Schemas['AlertPolicyCreateInputRequest']
export type AlertPolicyQuery = ApiQuery<'alert_policies_list'>
export type Alert = Schemas['AlertOutput']
/** failure: a run failed after its retries; consecutive: N failures in a row; overrun/lag: too long/too late. */
export type AlertKind = Alert['kind']
/** sent: every channel accepted it; partial: some failed; failed: all failed. */
export type AlertStatus = Alert['status']
export type AlertDelivery = Schemas['DeliveryOutput']
export type AlertQuery = ApiQuery<'alerts_list'>
/** `POST /records/{id}/kill`: its node cancels the execution within about a second. */
export type ExecutionKill = Schemas['ExecutionKillOutput']
