/** Shapes of the `/v1` API (camelCase JSON, ISO-8601 UTC times). See /v1/schema for the full contract. */

export interface Page<T> {
  list: T[]
  total: number
  page: number
  size: number
}

export interface PageQuery {
  page?: number
  size?: number
}

export type Status01 = 0 | 1

export interface User {
  id: number
  username: string
  realName: string
  email: string | null
  phone: string | null
  departmentId: number
  departmentName: string
  roleId: number
  roleName: string
  status: Status01
  createTime: string
  updateTime: string
}

export interface UserInfo extends User {
  permissions: string[]
}

export interface LoginResult {
  token: string
  refreshToken: string
  expiresIn: number
  tokenType: string
  user: UserInfo
}

export interface Department {
  id: number
  name: string
  description: string | null
  parentId: number | null
  status: Status01
  createTime: string
  updateTime: string
  children?: Department[]
}

export interface Permission {
  id: number
  /** As stored (the seed's name); `label` is the same in the request's language (Accept-Language). */
  name: string
  label?: string
  code: string
  description: string | null
  status: Status01
}

export interface Role {
  id: number
  name: string
  description: string | null
  status: Status01
  permissions: number[]
  permissionCodes: string[]
  createTime: string
  updateTime: string
}

export type TaskType = 'HTTP' | 'GRPC' | 'SHELL'
/** 0 disabled, 1 enabled, 2 one-shot (fires once, then disables itself). */
export type TaskStatus = 0 | 1 | 2
export type ConcurrencyPolicy = 'allow' | 'forbid' | 'replace'
export type MisfirePolicy = 'skip' | 'fire_once' | 'fire_all'
/** Which registered instance gets a call when the target is an executor name (docs/executors.md). */
export type RouteStrategy = 'round_robin' | 'random' | 'first' | 'consistent_hash' | 'least_busy' | 'failover' | 'broadcast'
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface Task {
  id: number
  name: string
  description: string | null
  departmentId: number
  departmentName: string
  taskType: TaskType
  cron: string
  timezone: string
  url: string | null
  httpMethod: string
  headers: Record<string, string> | null
  body: string | null
  fallbackUrl: string | null
  grpcService: string | null
  grpcMethod: string | null
  grpcParams: string | null
  fallbackGrpcService: string | null
  fallbackGrpcMethod: string | null
  /** SHELL: argv = [shellCommand, ...shellArgs], run without a shell. All four are null for other types. */
  shellCommand: string | null
  shellArgs: string[] | null
  shellWorkdir: string | null
  shellEnv: Record<string, string> | null
  timeout: number
  retryCount: number
  retryInterval: number
  concurrencyPolicy: ConcurrencyPolicy
  misfirePolicy: MisfirePolicy
  routeStrategy: RouteStrategy
  status: TaskStatus
  lastExecuteTime: string | null
  nextExecuteTime: string | null
  version: number
  creatorId: number | null
  /** Tasks triggered after each successful run of this one, in order (docs/child-tasks.md). */
  childTaskIds: number[]
  createTime: string
  updateTime: string
}

interface TaskCommonInput {
  name: string
  description?: string | null
  departmentId: number
  cron: string
  timezone?: string
  retryCount?: number
  retryInterval?: number
  timeout?: number
  concurrencyPolicy?: ConcurrencyPolicy
  misfirePolicy?: MisfirePolicy
  status: TaskStatus
  /** At most 20; the task's department or below; no cycles. On update: omitted = unchanged, [] = none. */
  childTaskIds?: number[]
}

export interface HttpTaskInput extends TaskCommonInput {
  url: string
  httpMethod: HttpMethod
  headers?: Record<string, string> | null
  body?: string | null
  fallbackUrl?: string | null
  routeStrategy?: RouteStrategy
}

export interface GrpcTaskInput extends TaskCommonInput {
  grpcService: string
  grpcMethod: string
  grpcParams?: Record<string, unknown> | null
  fallbackGrpcService?: string | null
  fallbackGrpcMethod?: string | null
  routeStrategy?: RouteStrategy
}

/** Each `shellArgs` item is one argv element: nothing splits or expands it (shell syntax needs `sh`, `-c`). */
export interface ShellTaskInput extends TaskCommonInput {
  shellCommand: string
  shellArgs?: string[]
  /** An absolute path; null: the scheduler node's working directory. */
  shellWorkdir?: string | null
  /** Names `[A-Za-z_][A-Za-z0-9_]*`, not starting with `DJS_` (DJS sets those). */
  shellEnv?: Record<string, string> | null
}

export interface TaskQuery extends PageQuery {
  keyword?: string
  departmentId?: number
  taskType?: TaskType
  status?: TaskStatus
  /** Only the tasks that name this task among their child tasks (its parents). */
  childOf?: number
}

export interface FireTime {
  local: string
  utc: string
}

export interface CronPreview {
  cron: string
  timezone: string
  list: FireTime[]
}

/** 0 running (startTime null: claimed, waiting for its instant), 1 success, 2 failed, 3 killed, 4 skipped, 5 lost. */
export type RecordStatus = 0 | 1 | 2 | 3 | 4 | 5
/** CHILD: run after the parent task's run (`parentRecordId`) succeeded. */
export type TriggerType = 'SCHEDULE' | 'MANUAL' | 'RETRY' | 'RECOVERY' | 'CHILD'

export interface TaskRecord {
  id: number
  taskId: number
  taskName: string
  departmentId: number
  taskType: TaskType
  triggerType: TriggerType
  scheduledTime: string
  startTime: string | null
  endTime: string | null
  status: RecordStatus
  success: boolean | null
  statusCode: number | null
  response: string | null
  error: string | null
  costTime: number | null
  retryTimes: number
  usedFallback: boolean
  executor: string | null
  /** The registered executor instance that answered (the task's target was a registry name), else null. */
  instance: string | null
  /** A broadcast fire's shard (0..shardTotal-1; 0 for every other run) and its number of shards (null: no broadcast). */
  shard?: number
  shardTotal?: number | null
  /** Every call when there was more than one (retries, fallback), at most 20; null for a single call. */
  attempts: RecordAttempt[] | null
  /** The dead scheduler node this never-started run was taken over from (it ran as a first attempt). */
  takenOverFrom: string | null
  /** CHILD runs: the parent task's record (in the month table parentYear/parentMonth); null otherwise. */
  parentRecordId: number | null
  parentYear: number | null
  parentMonth: number | null
  createTime: string
  updateTime: string
}

/** One slice of a SHELL execution's log (bytes `[offset, nextOffset)` of the file, decoded as UTF-8). */
export interface RecordLog {
  recordId: number
  taskId: number
  /** false: no file on the web host (not started yet, or written on node `executor` with a local log dir). */
  exists: boolean
  /** Bytes in the whole file. */
  size: number
  offset: number
  content: string
  /** Where the next slice starts; null at the end of the file. */
  nextOffset: number | null
  executor: string | null
}

export interface LogQuery {
  offset?: number
  limit?: number
}

export interface MonthQuery {
  year: number
  month: number
}

export interface RecordQuery extends MonthQuery, PageQuery {
  /** The `nextCursor` of the previous answer (same year, month and filters): the rows below it, newest first. */
  cursor?: string
  taskId?: number
  departmentId?: number
  success?: boolean
  taskType?: TaskType
  status?: RecordStatus
  triggerType?: TriggerType
  /** The child runs of this record (with parentYear/parentMonth: of that month's record). */
  parentRecordId?: number
  parentYear?: number
  parentMonth?: number
}

/**
 * `GET /records`: newest first. `?page=` reaches 10,000 rows deep (deeper answers 4001 "use cursor"); `nextCursor`
 * continues below the last row at any depth (docs/records.md).
 */
export interface RecordPage extends Page<TaskRecord> {
  hasMore: boolean
  /** Pass as `cursor` for the next rows; null on the last page. */
  nextCursor: string | null
  /** Present (true) when a filter the rollups do not carry was counted only up to 10,000: `total` is a floor. */
  totalCapped?: boolean
  /** Present (true) when retention dropped the month's raw rows (`total` 0; `/records/stats` still has it). */
  rawPruned?: boolean
}

/** One platform-zone local day of `/records/stats` (`total` includes running, killed, skipped and lost). */
export interface DailyStat {
  date: string
  total: number
  success: number
  failed: number
}

export interface RecordStats {
  year: number
  month: number
  total: number
  successCount: number
  failCount: number
  runningCount: number
  killedCount: number
  skippedCount: number
  lostCount: number
  successRate: number | null
  avgCostTime: number | null
  p95CostTime: number | null
  /** Every local day of the month in the platform time zone, in order (days to come are zeros). */
  daily: DailyStat[]
  topFailingTasks: { taskId: number; taskName: string; failures: number }[]
  /** The platform zone (IANA) whose local days `daily` counts; "today" is a date in it. */
  timeZone?: string
  /** Present while the month's rollups are not built: the figures were counted from the raw records. */
  warning?: string
}

export interface SchedulerNode {
  id: number
  name: string
  host: string
  pid: number
  status: string
  alive: boolean
  running: number
  version: string
  startedAt: string
  heartbeatAt: string
  heartbeatAge: number
  /** Maintenance mode as this node last saw it: it heartbeated after the pause began, so it stopped claiming. */
  paused: boolean
  /** The platform-wide switch now (GET /scheduler/state). */
  schedulerPaused: boolean
}

/** Maintenance mode (`GET /scheduler/state`): while paused no node starts scheduled fires or manual runs. */
export interface SchedulerState {
  paused: boolean
  pausedAt: string | null
  /** Who paused; `username` is null once that user is deleted. */
  pausedBy: { id: number; username: string | null } | null
  reason: string
}

/** failure: a run failed after its retries; consecutive: N failures in a row; overrun/lag: too long/too late. */
export type AlertKind = 'failure' | 'consecutive' | 'overrun' | 'lag' | 'test'
/** sent: every channel accepted it; partial: some failed; failed: all failed. */
export type AlertStatus = 'sending' | 'sent' | 'partial' | 'failed'

/** A task's own alert policy (taskId set) or a department default (taskId null) (docs/alerts.md). */
export interface AlertPolicy {
  id: number
  departmentId: number
  departmentName: string
  taskId: number | null
  taskName: string | null
  enabled: boolean
  onFailure: boolean
  /** 0: off. */
  consecutiveFailures: number
  /** Disables the task when the consecutive-failure streak is reached. */
  autoPause: boolean
  overrunSeconds: number | null
  lagSeconds: number | null
  webhookUrl: string | null
  /** The secret itself is write-only. */
  hasWebhookSecret: boolean
  emails: string[] | null
  /** null: the platform default (alerts.cooldown, 300 s); 0: no cooldown. */
  cooldownSeconds: number | null
  createTime: string
  updateTime: string
}

/** Create and update body; on update a field left out keeps its value. */
export interface AlertPolicyFields {
  enabled?: boolean
  onFailure?: boolean
  consecutiveFailures?: number
  autoPause?: boolean
  overrunSeconds?: number | null
  lagSeconds?: number | null
  webhookUrl?: string | null
  /** HMAC-SHA256 key of the webhook signature; "" removes it, omitted keeps it. */
  webhookSecret?: string
  emails?: string[] | null
  cooldownSeconds?: number | null
}

/** Exactly one of taskId (needs task:update) and departmentId (needs department:manage). */
export interface AlertPolicyCreateInput extends AlertPolicyFields {
  taskId?: number
  departmentId?: number
}

export interface AlertPolicyQuery extends PageQuery {
  departmentId?: number
  taskId?: number
  scope?: 'task' | 'department'
}

export interface AlertDelivery {
  channel: 'webhook' | 'email'
  target: string
  ok: boolean
  statusCode: number | null
  error: string | null
}

export interface Alert {
  id: number
  departmentId: number
  policyId: number | null
  taskId: number | null
  taskName: string
  kind: AlertKind
  /** The execution the alert is about, in the month table recordYear/recordMonth. */
  recordId: number | null
  recordYear: number | null
  recordMonth: number | null
  message: string
  status: AlertStatus
  deliveries: AlertDelivery[] | null
  /** Similar alerts folded into this one (cooldown, rate limit). */
  suppressed: number
  node: string
  createTime: string
  updateTime: string
}

export interface AlertQuery extends PageQuery {
  taskId?: number
  departmentId?: number
  kind?: AlertKind
  status?: AlertStatus
}

export interface AuditLog {
  id: number
  userId: number | null
  username: string
  departmentId: number | null
  action: string
  objectType: string
  objectId: string | null
  objectRepr: string
  changes: unknown
  /** The action in the request's language (server catalog); the console prefers its own. */
  actionLabel?: string
  clientIp: string
  userAgent: string
  via: string
  createTime: string
}

export interface AuditQuery extends PageQuery {
  userId?: number
  action?: string
  objectType?: string
  objectId?: string
  start?: string
  end?: string
}

/** One call of an execution (a record's `attempts`): attempt 0 is the first try; target primary or fallback. */
export interface RecordAttempt {
  attempt: number
  target: 'primary' | 'fallback'
  instance: string | null
  statusCode: number | null
  costMs: number
  error: string | null
}
