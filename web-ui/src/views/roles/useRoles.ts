import { onMounted, reactive, ref, shallowRef } from 'vue'
import { createRole, deleteRole, listPermissions, listRoles, updateRole } from '@/api/roles'
import type { Permission, Role, Status01 } from '@/api/types'
import { i18n } from '@/i18n'
import { confirmDanger, toastError, toastSuccess } from '@/utils/feedback'
import { useFieldErrors } from '@/utils/form'
import { filterCodecs, usePagedList } from '@/utils/usePagedList'

export interface RoleForm {
  id: number | null
  name: string
  description: string
  permissions: number[]
  status: Status01
}

/** What `GET /roles?sort=` takes (docs/api.md "Sorting"). */
export const ROLE_SORTS = ['id', 'name', 'status', 'createTime', 'updateTime'] as const

export function useRoles() {
  const t = i18n.global.t
  const list = usePagedList<Role, { keyword: string }>({
    filters: { keyword: filterCodecs.text() },
    sorts: ROLE_SORTS,
    size: 20,
    fetch: (params, f) => listRoles({ ...params, keyword: f.keyword.trim() || undefined }),
  })
  const { load } = list
  const permissions = shallowRef<Permission[]>([])
  const dialogOpen = ref(false)
  const saving = ref(false)
  const form = reactive<RoleForm>({ id: null, name: '', description: '', permissions: [], status: 1 })
  const { errors, apply, clear } = useFieldErrors(['name', 'description', 'permissions', 'status'], {}, form)

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
    try {
      permissions.value = await listPermissions()
    } catch (error) {
      toastError(error)
    }
  })

  return { ...list, loadError: list.error, permissions, dialogOpen, saving, form, errors, openCreate, openEdit, save, remove }
}
