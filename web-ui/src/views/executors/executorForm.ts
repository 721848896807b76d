/**
 * Executor entries in the console: the dialog's form model, entry -> form, form -> request body, the checks the
 * server makes too (so the message shows at once), and how a row reads (state, address kind). Pure functions,
 * unit-tested (no component, no request).
 */
import type { Executor, ExecutorCreateInput, ExecutorFields, ExecutorKind, ExecutorSource, ExecutorStatus } from '@/api/executors'

/** The server's rules (apps/executors/specs.py). */
export const EXECUTOR_LIMITS = { name: 128, address: 255, weightMin: 1, weightMax: 100 } as const
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/
export const EXECUTOR_KINDS: readonly ExecutorKind[] = ['grpc', 'http']
export const EXECUTOR_SOURCES: readonly ExecutorSource[] = ['manual', 'self', 'dns']

export interface ExecutorForm {
  /** null: a new entry. */
  id: number | null
  /** The stored entry's source (a self entry edits status and weight only). */
  source: ExecutorSource | null
  departmentId: number | null
  name: string
  kind: ExecutorKind
  address: string
  weight: number
  status: ExecutorStatus
}

/** Form-item props; server `data.fields` keys have the same names. */
export const EXECUTOR_FORM_PROPS = ['departmentId', 'name', 'kind', 'address', 'weight', 'status'] as const

export function emptyExecutorForm(departmentId: number | null = null): ExecutorForm {
  return { id: null, source: null, departmentId, name: '', kind: 'grpc', address: '', weight: 1, status: 'up' }
}

export function executorToForm(entry: Executor): ExecutorForm {
  return {
    id: entry.id,
    source: entry.source,
    departmentId: entry.departmentId,
    name: entry.name,
    kind: entry.kind,
    address: entry.address,
    weight: entry.weight,
    status: entry.status,
  }
}

/** Whether the dialog lets the name, kind and address change (not for a self-registered entry). */
export function identityEditable(form: Pick<ExecutorForm, 'source'>): boolean {
  return form.source !== 'self'
}

export function formToCreateInput(form: ExecutorForm): ExecutorCreateInput {
  return {
    departmentId: form.departmentId ?? 0,
    name: form.name.trim(),
    kind: form.kind,
    address: form.address.trim(),
    weight: form.weight,
    status: form.status,
  }
}

export function formToFields(form: ExecutorForm): ExecutorFields {
  const fields: ExecutorFields = { weight: form.weight, status: form.status }
  if (identityEditable(form)) Object.assign(fields, { name: form.name.trim(), kind: form.kind, address: form.address.trim() })
  return fields
}

type Translate = (key: string, params?: Record<string, unknown>) => string

/** What the server would refuse, keyed like its `data.fields`. */
export function validateExecutorForm(form: ExecutorForm, t: Translate): Record<string, string[]> {
  const problems: Record<string, string[]> = {}
  const add = (field: string, message: string) => (problems[field] ??= []).push(message)
  if (form.id === null && form.departmentId === null) add('departmentId', t('validation.required'))
  if (identityEditable(form)) {
    const name = form.name.trim()
    if (!name) add('name', t('validation.required'))
    else if (/[:/]/.test(name)) add('name', t('executor.nameIsAddress'))
    else if (!NAME_PATTERN.test(name)) add('name', t('executor.nameRule'))
    const address = form.address.trim()
    if (!address) add('address', t('validation.required'))
    else if (addressProblem(form.kind, address)) add('address', t(addressProblem(form.kind, address) as string))
  }
  if (!Number.isInteger(form.weight) || form.weight < EXECUTOR_LIMITS.weightMin || form.weight > EXECUTOR_LIMITS.weightMax) {
    add('weight', t('executor.weightRule'))
  }
  return problems
}

/** The i18n key of the rule an address breaks for its kind, or null (the server checks the details). */
export function addressProblem(kind: ExecutorKind, address: string): string | null {
  if (address.length > EXECUTOR_LIMITS.address) return 'executor.addressTooLong'
  if (address.startsWith('dns:///')) return /^dns:\/\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):\d{1,5}$/.test(address) ? null : 'executor.addressDns'
  if (kind === 'http') return /^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/i.test(address) ? null : 'executor.addressHttp'
  return /^(\[[0-9a-fA-F:.]+\]|[^:/[\]\s]+):\d{1,5}$/.test(address) ? null : 'executor.addressGrpc'
}

/** How a row's state reads: live, drained by an operator, or a self entry past its TTL. */
export type ExecutorState = 'live' | 'down' | 'expired'

export function executorState(entry: Pick<Executor, 'live' | 'status'>): ExecutorState {
  if (entry.status === 'down') return 'down'
  return entry.live ? 'live' : 'expired'
}
