import type { AuditLog } from '@/api/types'

/**
 * The audit actions the platform writes (apps/accounts/audit.py ACTION_LABELS, every `audit_record(action=...)`),
 * offered by the action filter; labels in the console's catalog under `audit.actions.<code>`.
 */
export const AUDIT_ACTIONS = [
  'auth.login', 'auth.login_failed', 'auth.logout',
  'user.create', 'user.update', 'user.delete', 'user.password', 'user.token_create', 'user.token_revoke',
  'role.create', 'role.update', 'role.delete',
  'department.create', 'department.update', 'department.delete',
  'task.create', 'task.update', 'task.delete', 'task.status', 'task.rename', 'task.trigger', 'task.kill',
  'task.autopause',
  'record.kill',
  'scheduler.pause', 'scheduler.resume',
  'alert_policy.create', 'alert_policy.update', 'alert_policy.delete', 'alert_policy.test',
  'executor.create', 'executor.update', 'executor.delete', 'executor.register', 'executor.deregister',
] as const

type Translate = (key: string) => string
type HasKey = (key: string) => boolean

/** Whether a row has anything to show when expanded (no arrow for `null`, `{}`, `[]`). */
export function hasChanges(changes: unknown): boolean {
  if (changes === null || changes === undefined) return false
  if (Array.isArray(changes)) return changes.length > 0
  if (typeof changes === 'object') return Object.keys(changes as object).length > 0
  return true
}

/** The console's label for a field's value where it knows one (codes, statuses); else the value as JSON. */
export function valueLabel(objectType: string, field: string, value: unknown, t: Translate, te: HasKey): string {
  const key = labelKey(objectType, field, value)
  if (key && te(key)) return t(key)
  if (typeof value === 'boolean') return t(value ? 'common.yes' : 'common.no')
  if (value === null || value === undefined) return '-'
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function labelKey(objectType: string, field: string, value: unknown): string | null {
  if (typeof value !== 'number' && typeof value !== 'string') return null
  if (field === 'status') {
    if (objectType === 'task') return `task.status.s${value}`
    if (['user', 'role', 'department', 'executor', 'alert_policy'].includes(objectType)) {
      return value === 1 ? 'common.enabled' : value === 0 ? 'common.disabled' : null
    }
    return null
  }
  if (objectType !== 'task') return null
  if (field === 'concurrencyPolicy') return `task.concurrency.${value}`
  if (field === 'misfirePolicy') return `task.misfire.${value}`
  if (field === 'routeStrategy') return `task.route.${value}`
  return null
}

export interface ChangeRow {
  field: string
  /** Set for an `{old, new}` change. */
  old?: string
  new?: string
  /** Set for a plain value (a created object's fields, a list). */
  value?: string
}

const isOldNew = (v: unknown): v is { old: unknown; new: unknown } =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && 'old' in v && 'new' in v

/** `changes` as rows with labels: `{status: {old: 1, new: 0}}` on a task reads Enabled → Disabled. */
export function changeRows(row: Pick<AuditLog, 'objectType' | 'changes'>, t: Translate, te: HasKey): ChangeRow[] {
  const changes = row.changes
  if (!hasChanges(changes)) return []
  if (typeof changes !== 'object' || Array.isArray(changes)) {
    return [{ field: '', value: typeof changes === 'string' ? changes : JSON.stringify(changes) }]
  }
  return Object.entries(changes as Record<string, unknown>).map(([field, change]) =>
    isOldNew(change)
      ? {
          field,
          old: valueLabel(row.objectType, field, change.old, t, te),
          new: valueLabel(row.objectType, field, change.new, t, te),
        }
      : { field, value: valueLabel(row.objectType, field, change, t, te) },
  )
}

/** An action's label: the console's catalog, else the server's `actionLabel`, else the code. */
export function actionLabel(action: string, serverLabel: string | undefined, t: Translate, te: HasKey): string {
  const key = `audit.actions.${action}`
  if (te(key)) return t(key)
  return serverLabel || action
}
