/**
 * Alert policies in the console: the dialog's form model, policy -> form, form -> request body, the checks
 * the server makes too (done before sending, so the message shows at once), and the summaries the tables
 * show. Pure functions, unit-tested (no component, no request).
 */
import type { FieldErrors } from '@/api/http'
import type { Alert, AlertDelivery, AlertKind, AlertPolicy, AlertPolicyCreateInput, AlertPolicyFields, AlertStatus } from '@/api/types'

export type PolicyScope = 'task' | 'department'

export const ALERT_KINDS: readonly AlertKind[] = ['failure', 'consecutive', 'overrun', 'lag', 'test']
export const ALERT_STATUSES: readonly AlertStatus[] = ['sending', 'sent', 'partial', 'failed']

/** The server's limits (apps/alerts/api/serializers.py). */
export const POLICY_LIMITS = {
  consecutiveFailures: 1000,
  overrunSeconds: 7 * 86400,
  lagSeconds: 86400,
  cooldownSeconds: 86400,
  emails: 20,
  email: 254,
  webhookUrl: 2048,
  webhookSecret: 255,
} as const
/** `alerts.cooldown` of the default configuration; the server applies its own value for null. */
export const DEFAULT_COOLDOWN_SECONDS = 300

/** The permission a policy's writes need: task:update for a task's own, department:manage for a default. */
export function policyPermission(policy: Pick<AlertPolicy, 'taskId'> | { scope: PolicyScope }): string {
  const scope = 'scope' in policy ? policy.scope : policy.taskId !== null ? 'task' : 'department'
  return scope === 'task' ? 'task:update' : 'department:manage'
}

export interface PolicyForm {
  /** null: a new policy. */
  id: number | null
  scope: PolicyScope
  taskId: number | null
  departmentId: number | null
  enabled: boolean
  onFailure: boolean
  consecutiveFailures: number
  autoPause: boolean
  overrunSeconds: number | null
  lagSeconds: number | null
  webhookUrl: string
  /** A new secret typed in the dialog (empty: keep the stored one). */
  webhookSecret: string
  /** Remove the stored secret (sends ""). */
  clearSecret: boolean
  /** The stored policy has a secret (the secret itself is never answered). */
  hasWebhookSecret: boolean
  /** Addresses separated by commas, semicolons, spaces or new lines. */
  emails: string
  cooldownSeconds: number | null
}

/** Form-item props; server `data.fields` keys have the same names. */
export const POLICY_FORM_PROPS = [
  'taskId', 'departmentId', 'enabled', 'onFailure', 'consecutiveFailures', 'autoPause', 'overrunSeconds',
  'lagSeconds', 'webhookUrl', 'webhookSecret', 'emails', 'cooldownSeconds',
] as const

export function emptyPolicyForm(scope: PolicyScope, defaults: { taskId?: number | null; departmentId?: number | null } = {}): PolicyForm {
  return {
    id: null,
    scope,
    taskId: defaults.taskId ?? null,
    departmentId: defaults.departmentId ?? null,
    enabled: true,
    onFailure: true,
    consecutiveFailures: 0,
    autoPause: false,
    overrunSeconds: null,
    lagSeconds: null,
    webhookUrl: '',
    webhookSecret: '',
    clearSecret: false,
    hasWebhookSecret: false,
    emails: '',
    cooldownSeconds: null,
  }
}

export function policyToForm(policy: AlertPolicy): PolicyForm {
  return {
    id: policy.id,
    scope: policy.taskId !== null ? 'task' : 'department',
    taskId: policy.taskId,
    departmentId: policy.departmentId,
    enabled: policy.enabled,
    onFailure: policy.onFailure,
    consecutiveFailures: policy.consecutiveFailures,
    autoPause: policy.autoPause,
    overrunSeconds: policy.overrunSeconds,
    lagSeconds: policy.lagSeconds,
    webhookUrl: policy.webhookUrl ?? '',
    webhookSecret: '',
    clearSecret: false,
    hasWebhookSecret: policy.hasWebhookSecret,
    emails: (policy.emails ?? []).join('\n'),
    cooldownSeconds: policy.cooldownSeconds,
  }
}

/** The addresses of the e-mail field, in order, blanks dropped. */
export function parseEmails(text: string): string[] {
  return text.split(/[\s,;]+/).filter(Boolean)
}

// Deliberately loose (the server validates with Django's validator): one @, no spaces, a dot in the domain.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
const numberOrNull = (value: number | null | undefined): number | null =>
  value === null || value === undefined || Number.isNaN(value) ? null : value

/** What the secret will be after saving: kept, replaced by the typed one, or removed. */
export function secretChange(form: PolicyForm): 'keep' | 'set' | 'clear' {
  if (form.webhookSecret) return 'set'
  if (form.clearSecret) return 'clear'
  return 'keep'
}

/** The editable fields as the API takes them (PUT sends them all: nothing is left to chance). */
export function formToFields(form: PolicyForm): AlertPolicyFields {
  const emails = parseEmails(form.emails)
  const consecutive = numberOrNull(form.consecutiveFailures) ?? 0
  const body: AlertPolicyFields = {
    enabled: form.enabled,
    onFailure: form.onFailure,
    consecutiveFailures: consecutive,
    autoPause: consecutive > 0 && form.autoPause,
    overrunSeconds: numberOrNull(form.overrunSeconds),
    lagSeconds: numberOrNull(form.lagSeconds),
    webhookUrl: form.webhookUrl.trim() || null,
    emails: emails.length ? emails : null,
    cooldownSeconds: numberOrNull(form.cooldownSeconds),
  }
  const secret = secretChange(form)
  if (secret === 'set') body.webhookSecret = form.webhookSecret
  else if (secret === 'clear') body.webhookSecret = ''
  return body
}

/** POST body: exactly one of taskId / departmentId, plus the fields. */
export function formToCreateInput(form: PolicyForm): AlertPolicyCreateInput {
  const fields = formToFields(form)
  if (form.scope === 'task') {
    if (form.taskId === null) throw new Error('taskId is required')
    return { taskId: form.taskId, ...fields }
  }
  if (form.departmentId === null) throw new Error('departmentId is required')
  return { departmentId: form.departmentId, ...fields }
}

type Translate = (key: string, params?: Record<string, unknown>) => string

function range(value: number | null, min: number, max: number): boolean {
  return value === null || (Number.isInteger(value) && value >= min && value <= max)
}

/**
 * The checks the server makes too (4001 otherwise): a scope, at least one channel and one condition,
 * auto-pause only with a failure streak, the ranges, the addresses. Keys are form-item props.
 */
export function validatePolicyForm(form: PolicyForm, t: Translate): FieldErrors {
  const errors: FieldErrors = {}
  const add = (prop: string, message: string) => (errors[prop] ??= []).push(message)
  if (form.id === null) {
    if (form.scope === 'task' && form.taskId === null) add('taskId', t('validation.required'))
    if (form.scope === 'department' && form.departmentId === null) add('departmentId', t('validation.required'))
  }
  const fields = formToFields(form)
  const consecutive = fields.consecutiveFailures ?? 0
  if (!range(consecutive, 0, POLICY_LIMITS.consecutiveFailures)) {
    add('consecutiveFailures', t('alert.check.range', { min: 0, max: POLICY_LIMITS.consecutiveFailures }))
  }
  if (form.autoPause && consecutive === 0) add('autoPause', t('alert.check.autoPause'))
  if (!range(fields.overrunSeconds ?? null, 1, POLICY_LIMITS.overrunSeconds)) {
    add('overrunSeconds', t('alert.check.range', { min: 1, max: POLICY_LIMITS.overrunSeconds }))
  }
  if (!range(fields.lagSeconds ?? null, 1, POLICY_LIMITS.lagSeconds)) {
    add('lagSeconds', t('alert.check.range', { min: 1, max: POLICY_LIMITS.lagSeconds }))
  }
  if (!range(fields.cooldownSeconds ?? null, 0, POLICY_LIMITS.cooldownSeconds)) {
    add('cooldownSeconds', t('alert.check.range', { min: 0, max: POLICY_LIMITS.cooldownSeconds }))
  }
  const url = fields.webhookUrl
  if (url) {
    if (!/^https?:\/\/[^\s/]+/i.test(url)) add('webhookUrl', t('alert.check.webhookUrl'))
    else if (url.length > POLICY_LIMITS.webhookUrl) add('webhookUrl', t('alert.check.tooLong', { n: POLICY_LIMITS.webhookUrl }))
  }
  if (form.webhookSecret.length > POLICY_LIMITS.webhookSecret) {
    add('webhookSecret', t('alert.check.tooLong', { n: POLICY_LIMITS.webhookSecret }))
  }
  const emails = fields.emails ?? []
  const bad = emails.find((address) => !EMAIL.test(address) || address.length > POLICY_LIMITS.email)
  const lower = emails.map((address) => address.toLowerCase())
  if (emails.length > POLICY_LIMITS.emails) add('emails', t('alert.check.tooManyEmails', { n: POLICY_LIMITS.emails }))
  else if (bad !== undefined) add('emails', t('alert.check.email', { address: bad }))
  else if (new Set(lower).size !== lower.length) add('emails', t('alert.check.duplicateEmail'))
  if (!url && emails.length === 0) add('webhookUrl', t('alert.check.channel'))
  if (!fields.onFailure && consecutive === 0 && fields.overrunSeconds === null && fields.lagSeconds === null) {
    add('onFailure', t('alert.check.condition'))
  }
  return errors
}

/** One translatable piece of a summary. */
export interface Part {
  key: string
  params?: Record<string, unknown>
}

/** What makes the policy alert, e.g. "on failure · 3 failures in a row, then pause · still running after 600 s". */
export function conditionParts(policy: AlertPolicy): Part[] {
  const parts: Part[] = []
  if (policy.onFailure) parts.push({ key: 'alert.cond.failure' })
  if (policy.consecutiveFailures > 0) {
    parts.push({ key: policy.autoPause ? 'alert.cond.consecutivePause' : 'alert.cond.consecutive', params: { n: policy.consecutiveFailures } })
  }
  if (policy.overrunSeconds !== null) parts.push({ key: 'alert.cond.overrun', params: { n: policy.overrunSeconds } })
  if (policy.lagSeconds !== null) parts.push({ key: 'alert.cond.lag', params: { n: policy.lagSeconds } })
  return parts
}

/** Where it sends: the webhook (with or without a signature) and the e-mail addresses. */
export function channelParts(policy: AlertPolicy): Part[] {
  const parts: Part[] = []
  if (policy.webhookUrl) {
    parts.push({ key: policy.hasWebhookSecret ? 'alert.chan.webhookSigned' : 'alert.chan.webhook', params: { url: policy.webhookUrl } })
  }
  if (policy.emails?.length) parts.push({ key: 'alert.chan.email', params: { n: policy.emails.length, list: policy.emails.join(', ') } })
  return parts
}

/** Counts for the deliveries column: "1/2 delivered". */
export function deliverySummary(alert: Pick<Alert, 'deliveries'>): { ok: number; total: number } {
  const list: AlertDelivery[] = alert.deliveries ?? []
  return { ok: list.filter((d) => d.ok).length, total: list.length }
}

export function alertStatusType(status: AlertStatus): 'success' | 'warning' | 'danger' | 'info' {
  return status === 'sent' ? 'success' : status === 'partial' ? 'warning' : status === 'failed' ? 'danger' : 'info'
}

export function alertKindType(kind: AlertKind): 'danger' | 'warning' | 'info' | 'primary' {
  return kind === 'failure' || kind === 'consecutive' ? 'danger' : kind === 'test' ? 'info' : kind === 'lag' ? 'primary' : 'warning'
}
