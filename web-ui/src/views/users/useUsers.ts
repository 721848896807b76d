import { onMounted, reactive, ref, shallowRef } from 'vue'
import { departmentTree } from '@/api/departments'
import { listRoles } from '@/api/roles'
import type { Department, Role, Status01, User } from '@/api/types'
import { changePassword, createUser, deleteUser, listUsers, updateUser, type UserInput } from '@/api/users'
import { i18n } from '@/i18n'
import { confirmDanger, toastError, toastSuccess } from '@/utils/feedback'
import { useFieldErrors } from '@/utils/form'
import { filterCodecs, usePagedList } from '@/utils/usePagedList'

export interface UserForm {
  id: number | null
  username: string
  password: string
  realName: string
  email: string
  phone: string
  departmentId: number | null
  roleId: number | null
  status: Status01
}

export const USER_FORM_PROPS = ['username', 'password', 'realName', 'email', 'phone', 'departmentId', 'roleId', 'status'] as const

/** The PUT/POST body; on update an empty password is left out (the current one stays). */
export function userFormToInput(form: UserForm): UserInput {
  const body: UserInput = {
    username: form.username.trim(),
    realName: form.realName.trim(),
    email: form.email.trim() || null,
    phone: form.phone.trim() || null,
    departmentId: form.departmentId ?? 0,
    roleId: form.roleId ?? 0,
    status: form.status,
  }
  if (form.id === null || form.password) body.password = form.password
  return body
}

export function userToInput(user: User, status: Status01): UserInput {
  return {
    username: user.username,
    realName: user.realName,
    email: user.email,
    phone: user.phone,
    departmentId: user.departmentId,
    roleId: user.roleId,
    status,
  }
}

export interface UserFilters {
  keyword: string
  departmentId: number | undefined
}

/** What `GET /users?sort=` takes (docs/api.md "Sorting"). */
export const USER_SORTS = ['id', 'username', 'realName', 'status', 'createTime', 'updateTime'] as const

export function useUsers() {
  const t = i18n.global.t
  const list = usePagedList<User, UserFilters>({
    filters: { keyword: filterCodecs.text(), departmentId: filterCodecs.id() },
    sorts: USER_SORTS,
    fetch: (params, f) => listUsers({ ...params, keyword: f.keyword.trim() || undefined, departmentId: f.departmentId }),
  })
  const { filters, load } = list
  const tree = shallowRef<Department[]>([])
  const roles = shallowRef<Role[]>([])
  const dialogOpen = ref(false)
  const saving = ref(false)
  const form = reactive<UserForm>({
    id: null, username: '', password: '', realName: '', email: '', phone: '', departmentId: null, roleId: null, status: 1,
  })
  const fieldErrors = useFieldErrors(USER_FORM_PROPS, {}, form)
  const passwordDialog = reactive({ open: false, user: null as User | null, password: '', saving: false })
  const passwordErrors = useFieldErrors(['newPassword'])

  async function loadChoices(): Promise<void> {
    const [departments, rolePage] = await Promise.all([departmentTree(), listRoles({ page: 1, size: 100 })])
    tree.value = departments
    roles.value = rolePage.list
  }

  function openCreate(): void {
    fieldErrors.clear()
    Object.assign(form, {
      id: null, username: '', password: '', realName: '', email: '', phone: '',
      departmentId: filters.departmentId ?? tree.value[0]?.id ?? null, roleId: null, status: 1,
    })
    dialogOpen.value = true
  }

  function openEdit(user: User): void {
    fieldErrors.clear()
    Object.assign(form, {
      id: user.id, username: user.username, password: '', realName: user.realName, email: user.email ?? '',
      phone: user.phone ?? '', departmentId: user.departmentId, roleId: user.roleId, status: user.status,
    })
    dialogOpen.value = true
  }

  async function save(): Promise<boolean> {
    fieldErrors.clear()
    saving.value = true
    try {
      const body = userFormToInput(form)
      if (form.id === null) await createUser(body)
      else await updateUser(form.id, body)
      toastSuccess()
      dialogOpen.value = false
      await load()
      return true
    } catch (error) {
      const unmatched = fieldErrors.apply(error)
      if (unmatched === null || unmatched.length) toastError(error)
      return false
    } finally {
      saving.value = false
    }
  }

  async function setStatus(user: User, status: Status01): Promise<void> {
    if (status === 0 && !(await confirmDanger(t('user.disableConfirm', { name: user.username })))) return
    try {
      await updateUser(user.id, userToInput(user, status))
      toastSuccess(status ? t('common.enabled') : t('common.disabled'))
      await load()
    } catch (error) {
      toastError(error)
    }
  }

  async function remove(user: User): Promise<void> {
    if (!(await confirmDanger(t('user.deleteConfirm', { name: user.username })))) return
    try {
      await deleteUser(user.id)
      toastSuccess(t('common.deleted'))
      await load()
    } catch (error) {
      toastError(error)
    }
  }

  function openPassword(user: User): void {
    passwordErrors.clear()
    Object.assign(passwordDialog, { open: true, user, password: '', saving: false })
  }

  async function savePassword(): Promise<void> {
    if (!passwordDialog.user) return
    passwordErrors.clear()
    passwordDialog.saving = true
    try {
      await changePassword(passwordDialog.user.id, passwordDialog.password)
      toastSuccess(t('user.passwordReset'))
      passwordDialog.open = false
    } catch (error) {
      const unmatched = passwordErrors.apply(error)
      if (unmatched === null || unmatched.length) toastError(error)
    } finally {
      passwordDialog.saving = false
    }
  }

  onMounted(async () => {
    try {
      await loadChoices()
    } catch (error) {
      toastError(error)
    }
  })

  return {
    ...list, loadError: list.error, tree, roles, dialogOpen, saving, form,
    errors: fieldErrors.errors, passwordDialog, passwordErrors: passwordErrors.errors,
    openCreate, openEdit, save, setStatus, remove, openPassword, savePassword,
  }
}
