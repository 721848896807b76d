import { onMounted, reactive, ref, shallowRef } from 'vue'
import {
  createAlertPolicy,
  deleteAlertPolicy,
  listAlertPolicies,
  testAlertPolicy,
  updateAlertPolicy,
} from '@/api/alerts'
import { departmentTree } from '@/api/departments'
import type { Alert, AlertPolicy, Department } from '@/api/types'
import { i18n } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { confirmDanger, toastError, toastSuccess } from '@/utils/feedback'
import { useFieldErrors } from '@/utils/form'
import { filterCodecs, usePagedList } from '@/utils/usePagedList'
import {
  emptyPolicyForm,
  formToCreateInput,
  formToFields,
  POLICY_FORM_PROPS,
  policyPermission,
  policyToForm,
  validatePolicyForm,
  type PolicyForm,
  type PolicyScope,
} from './alertPolicy'

export interface PolicyFilters {
  scope: PolicyScope | undefined
  departmentId: number | null | undefined
  taskId: number | null | undefined
}

/** What `GET /alert-policies?sort=` takes (docs/api.md "Sorting"). */
export const POLICY_SORTS = ['id', 'enabled', 'createTime', 'updateTime'] as const

/**
 * The "Policies" tab: list (`?scope&departmentId&taskId`, in the URL with page, size and sort), create/edit dialog,
 * enable switch, delete, and "Send test" with its outcome.
 */
export function useAlertPolicies() {
  const t = i18n.global.t
  const auth = useAuthStore()
  const list = usePagedList<AlertPolicy, PolicyFilters>({
    filters: {
      scope: filterCodecs.oneOf<PolicyScope>(['task', 'department']),
      departmentId: filterCodecs.id(),
      taskId: filterCodecs.id(),
    },
    sorts: POLICY_SORTS,
    sizes: [20, 50, 100],
    // ?create=1 opened the dialog once; the list's own URL drops it (a reload does not open it again).
    drop: ['create'],
    fetch: (params, f) => listAlertPolicies({
      ...params, scope: f.scope, departmentId: f.departmentId ?? undefined, taskId: f.taskId || undefined,
    }),
  })
  const { filters, rows, load, search } = list
  const tree = shallowRef<Department[]>([])
  const dialogOpen = ref(false)
  const saving = ref(false)
  /** Messages the form has no field for (4003, 4009, unknown keys). */
  const banner = ref<string[]>([])
  const form = reactive<PolicyForm>(emptyPolicyForm('task'))
  const fieldErrors = useFieldErrors(POLICY_FORM_PROPS, {}, form)
  /** Rows whose switch or test is in flight. */
  const busy = reactive(new Set<number>())
  const test = reactive({ open: false, policy: null as AlertPolicy | null, alert: null as Alert | null })

  /** Scopes the user may create a policy for. */
  function creatableScopes(): PolicyScope[] {
    return (['task', 'department'] as const).filter((scope) => auth.can(policyPermission({ scope })))
  }

  function canEdit(policy: AlertPolicy): boolean {
    return auth.can(policyPermission(policy))
  }

  function reset(): Promise<void> {
    Object.assign(filters, { scope: undefined, departmentId: undefined, taskId: undefined })
    return search()
  }

  function openCreate(defaults: { scope?: PolicyScope; taskId?: number | null; departmentId?: number | null } = {}): void {
    const scopes = creatableScopes()
    const scope = defaults.scope && scopes.includes(defaults.scope) ? defaults.scope : scopes[0]
    if (!scope) return
    fieldErrors.clear()
    banner.value = []
    Object.assign(form, emptyPolicyForm(scope, {
      taskId: defaults.taskId ?? filters.taskId ?? null,
      departmentId: defaults.departmentId ?? filters.departmentId ?? tree.value[0]?.id ?? null,
    }))
    dialogOpen.value = true
  }

  function openEdit(policy: AlertPolicy): void {
    fieldErrors.clear()
    banner.value = []
    Object.assign(form, policyToForm(policy))
    dialogOpen.value = true
  }

  /** Returns true when saved. Client checks first; server field errors land on their form items. */
  async function save(): Promise<boolean> {
    fieldErrors.clear()
    banner.value = []
    const local = validatePolicyForm(form, t)
    if (Object.keys(local).length) {
      Object.assign(fieldErrors.errors, Object.fromEntries(Object.entries(local).map(([k, v]) => [k, v.join('; ')])))
      return false
    }
    saving.value = true
    try {
      if (form.id === null) await createAlertPolicy(formToCreateInput(form))
      else await updateAlertPolicy(form.id, formToFields(form))
      toastSuccess()
      dialogOpen.value = false
      await load()
      return true
    } catch (error) {
      const unmatched = fieldErrors.apply(error)
      if (unmatched === null) banner.value = [error instanceof Error ? error.message : String(error)]
      else banner.value = unmatched
      return false
    } finally {
      saving.value = false
    }
  }

  async function setEnabled(policy: AlertPolicy, enabled: boolean): Promise<void> {
    busy.add(policy.id)
    try {
      const fresh = await updateAlertPolicy(policy.id, { enabled })
      rows.value = rows.value.map((row) => (row.id === fresh.id ? fresh : row))
      toastSuccess(enabled ? t('alert.policyEnabled') : t('alert.policyDisabled'))
    } catch (error) {
      toastError(error)
    } finally {
      busy.delete(policy.id)
    }
  }

  async function remove(policy: AlertPolicy): Promise<void> {
    if (!(await confirmDanger(t('alert.deleteConfirm', { scope: scopeLabel(policy) })))) return
    try {
      await deleteAlertPolicy(policy.id)
      toastSuccess(t('common.deleted'))
      await load()
    } catch (error) {
      toastError(error)
    }
  }

  /** Sends now and shows each channel's outcome (a failed delivery is an answer too, not an error). */
  async function sendTest(policy: AlertPolicy): Promise<void> {
    busy.add(policy.id)
    try {
      const alert = await testAlertPolicy(policy.id)
      Object.assign(test, { open: true, policy, alert })
    } catch (error) {
      toastError(error)
    } finally {
      busy.delete(policy.id)
    }
  }

  function scopeLabel(policy: AlertPolicy): string {
    return policy.taskId !== null
      ? t('alert.scopeTask', { name: policy.taskName ?? `#${policy.taskId}` })
      : t('alert.scopeDepartment', { name: policy.departmentName })
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
    ...list, loadError: list.error, tree, dialogOpen, saving, banner, form, errors: fieldErrors.errors, busy, test,
    creatableScopes, canEdit, reset, openCreate, openEdit, save, setEnabled, remove, sendTest, scopeLabel,
  }
}
