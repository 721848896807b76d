import { computed, onMounted, reactive, ref, shallowRef } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { createDepartment, deleteDepartment, departmentTree, updateDepartment } from '@/api/departments'
import type { Department, Status01 } from '@/api/types'
import { confirmDanger, errorText, toastError, toastSuccess } from '@/utils/feedback'
import { useFieldErrors } from '@/utils/form'
import { i18n } from '@/i18n'

export interface DepartmentForm {
  id: number | null
  name: string
  description: string
  parentId: number | null
  status: Status01
}

/** The tree without `id` and its descendants (a department cannot move under itself). */
export function withoutSubtree(tree: Department[], id: number | null): Department[] {
  if (id === null) return tree
  return tree
    .filter((d) => d.id !== id)
    .map((d) => ({ ...d, children: d.children ? withoutSubtree(d.children, id) : undefined }))
}

export function useDepartments() {
  const t = i18n.global.t
  const route = useRoute()
  const router = useRouter()
  const tree = shallowRef<Department[]>([])
  /** Filters the tree as it is typed; in the URL (`?keyword=`) once typed (Enter or leaving the field). */
  const keyword = ref(typeof route.query.keyword === 'string' ? route.query.keyword.slice(0, 100) : '')
  const loading = ref(false)
  /** Why the list could not be loaded (shown with Retry instead of "No Data"); null when it was. */
  const loadError = ref<string | null>(null)
  const dialogOpen = ref(false)
  const saving = ref(false)
  const form = reactive<DepartmentForm>({ id: null, name: '', description: '', parentId: null, status: 1 })
  const { errors, apply, clear } = useFieldErrors(['name', 'description', 'parentId', 'status'], {}, form)
  const parentChoices = computed(() => withoutSubtree(tree.value, form.id))

  async function load(): Promise<void> {
    loading.value = true
    loadError.value = null
    try {
      tree.value = await departmentTree()
    } catch (error) {
      tree.value = []
      loadError.value = errorText(error)
    } finally {
      loading.value = false
    }
  }

  function filtered(nodes: Department[]): Department[] {
    const word = keyword.value.trim().toLowerCase()
    if (!word) return nodes
    const out: Department[] = []
    for (const node of nodes) {
      const children = filtered(node.children ?? [])
      if (node.name.toLowerCase().includes(word) || children.length) out.push({ ...node, children })
    }
    return out
  }
  const visible = computed(() => filtered(tree.value))

  /** Puts the keyword in the URL, so Back and a shared link filter the same way. */
  function syncKeyword(): void {
    const word = keyword.value.trim()
    if ((route.query.keyword ?? '') === word) return
    const others = Object.fromEntries(Object.entries(route.query).filter(([key]) => key !== 'keyword'))
    void router.replace({ query: word ? { ...others, keyword: word } : others })
  }

  function openCreate(parent: Department | null): void {
    clear()
    Object.assign(form, { id: null, name: '', description: '', parentId: parent?.id ?? null, status: 1 })
    dialogOpen.value = true
  }

  function openEdit(row: Department): void {
    clear()
    Object.assign(form, { id: row.id, name: row.name, description: row.description ?? '', parentId: row.parentId, status: row.status })
    dialogOpen.value = true
  }

  async function save(): Promise<boolean> {
    clear()
    saving.value = true
    const body = { name: form.name.trim(), description: form.description.trim() || null, parentId: form.parentId, status: form.status }
    try {
      if (form.id === null) await createDepartment(body)
      else await updateDepartment(form.id, body)
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

  async function remove(row: Department): Promise<void> {
    if (!(await confirmDanger(t('department.deleteConfirm', { name: row.name })))) return
    try {
      await deleteDepartment(row.id)
      toastSuccess(t('common.deleted'))
      await load()
    } catch (error) {
      toastError(error)
    }
  }

  onMounted(load)

  return {
    tree, visible, keyword, loading, loadError, dialogOpen, saving, form, errors, parentChoices,
    load, syncKeyword, openCreate, openEdit, save, remove,
  }
}
