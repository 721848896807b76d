import { computed, onMounted, reactive, ref, shallowRef, type Ref } from 'vue'
import { createApiToken, listApiTokens, revokeApiToken, type ApiToken, type CreatedApiToken } from '@/api/tokens'
import { getUser } from '@/api/users'
import { i18n } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { confirmDanger, toastError, toastSuccess } from '@/utils/feedback'
import { useFieldErrors } from '@/utils/form'
import { usePagedList } from '@/utils/usePagedList'
import { emptyTokenForm, tokenFormToInput, type ApiTokenForm } from './apiToken'

/** What `GET /users/{id}/tokens?sort=` takes (docs/api.md "Sorting"). */
export const TOKEN_SORTS = ['id', 'name', 'createTime', 'expiresAt', 'lastUsedAt'] as const

/** The API tokens of one user: `userId` null means the signed-in user's own. Page, size and sort live in the URL. */
export function useApiTokens(userId: Ref<number | null>) {
  const t = i18n.global.t
  const auth = useAuthStore()
  const ownerId = computed(() => userId.value ?? auth.user?.id ?? 0)
  const own = computed(() => ownerId.value === auth.user?.id)
  const ownerName = ref(own.value ? (auth.user?.username ?? '') : '')
  const list = usePagedList<ApiToken, Record<string, never>>({
    filters: {},
    sorts: TOKEN_SORTS,
    fetch: (params) => (ownerId.value
      ? listApiTokens(ownerId.value, params)
      : Promise.resolve({ list: [], total: 0, page: params.page, size: params.size })),
  })
  const { load } = list
  const dialogOpen = ref(false)
  const saving = ref(false)
  const form = reactive<ApiTokenForm>(emptyTokenForm())
  // The server's field names: expiresInDays lands on the expiry choice.
  const fieldErrors = useFieldErrors(['name', 'expiry'], { expiresInDays: 'expiry', expiresAt: 'expiry' }, form)
  /** The token just made: its secret is shown once, in its own dialog, and forgotten when that closes. */
  const created = shallowRef<CreatedApiToken | null>(null)

  function openCreate(): void {
    fieldErrors.clear()
    Object.assign(form, emptyTokenForm())
    dialogOpen.value = true
  }

  async function save(): Promise<boolean> {
    fieldErrors.clear()
    saving.value = true
    try {
      created.value = await createApiToken(ownerId.value, tokenFormToInput(form))
      dialogOpen.value = false
      await list.setPage(1)
      return true
    } catch (error) {
      const unmatched = fieldErrors.apply(error)
      if (unmatched === null || unmatched.length) toastError(error)
      return false
    } finally {
      saving.value = false
    }
  }

  function forgetSecret(): void {
    created.value = null
  }

  async function revoke(token: ApiToken): Promise<void> {
    if (!(await confirmDanger(t('token.revokeConfirm', { name: token.name })))) return
    try {
      await revokeApiToken(ownerId.value, token.id)
      toastSuccess(t('token.revoked'))
      await load()
    } catch (error) {
      toastError(error)
    }
  }

  onMounted(async () => {
    if (!own.value) {
      try {
        ownerName.value = (await getUser(ownerId.value)).username
      } catch (error) {
        toastError(error)
      }
    }
  })

  return {
    ...list, loadError: list.error, ownerId, ownerName, own, dialogOpen, saving, form, created,
    errors: fieldErrors.errors, openCreate, save, forgetSecret, revoke,
  }
}
