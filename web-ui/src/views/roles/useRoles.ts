import { onMounted, reactive, ref, shallowRef } from 'vue'
import { createRole, deleteRole, listPermissions, listRoles, updateRole } from '@/api/roles'
import type { Permission, Role, Status01 } from '@/api/types'
import { i18n } from '@/i18n'
import { confirmDanger, errorText, toastError, toastSuccess } from '@/utils/feedback'
import { useFieldErrors } from '@/utils/form'

export interface RoleForm {
  id: number | null
  name: string
  description: string
  permissions: number[]
  status: Status01
}

export function useRoles() {
  const t = i18n.global.t
  const rows = shallowRef<Role[]>([])
  const permissions = shallowRef<Permission[]>([])
  const page = ref(1)
  const size = ref(20)
  const total = ref(0)
  const keyword = ref('')
  const loading = ref(false)
  /** Why the list could not be loaded (shown with Retry instead of "No Data"); null when it was. */
  const loadError = ref<string | null>(null)
  const dialogOpen = ref(false)
  const saving = ref(false)
  const form = reactive<RoleForm>({ id: null, name: '', description: '', permissions: [], status: 1 })
  const { errors, apply, clear } = useFieldErrors(['name', 'description', 'permissions', 'status'], {}, form)

  async function load(): Promise<void> {
    loading.value = true
    loadError.value = null
    try {
      const result = await listRoles({ page: page.value, size: size.value, keyword: keyword.value.trim() || undefined })
      rows.value = result.list
      total.value = result.total
    } catch (error) {
      rows.value = []
      total.value = 0
      loadError.value = errorText(error)
    } finally {
      loading.value = false
    }
  }

  function search(): Promise<void> {
    page.value = 1
    return load()
  }

  function openCreate(): void {
    clear()
    Object.assign(form, { id: null, name: '', description: '', permissions: [], status: 1 })
    dialogOpen.value = true
  }

  function openEdit(role: Role): void {
    clear()
    Object.assign(form, { id: role.id, name: role.name, description: role.description ?? '', permissions: [...role.permissions], status: role.status })
    dialogOpen.value = true
  }

  async function save(): Promise<boolean> {
    clear()
    saving.value = true
    const body = { name: form.name.trim(), description: form.description.trim() || null, permissions: [...form.permissions], status: form.status }
    try {
      if (form.id === null) await createRole(body)
      else await updateRole(form.id, body)
      toastSuccess()
      dialogOpen.value = false
      await load()
      return true
    } catch (error) {
      const unmatched = apply(error)
      if (unmatched === null || unmatched.length) toastError(error)
      return false
    } finally {
      saving.value = false
    }
  }

  async function remove(role: Role): Promise<void> {
    if (!(await confirmDanger(t('role.deleteConfirm', { name: role.name })))) return
    try {
      await deleteRole(role.id)
      toastSuccess(t('common.deleted'))
      await load()
    } catch (error) {
      toastError(error)
    }
  }

  onMounted(async () => {
    await load()
    try {
      permissions.value = await listPermissions()
    } catch (error) {
      toastError(error)
    }
  })

  return { rows, permissions, page, size, total, keyword, loading, loadError, dialogOpen, saving, form, errors, load, search, openCreate, openEdit, save, remove }
}
