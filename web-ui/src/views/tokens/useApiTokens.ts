import { computed, onMounted, reactive, ref, shallowRef, type Ref } from 'vue'
import { createApiToken, listApiTokens, revokeApiToken, type ApiToken, type CreatedApiToken } from '@/api/tokens'
import { getUser } from '@/api/users'
import { i18n } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { confirmDanger, toastError, toastSuccess } from '@/utils/feedback'
import { useFieldErrors } from '@/utils/form'
import { emptyTokenForm, tokenFormToInput, type ApiTokenForm } from './apiToken'

/** The API tokens of one user: `userId` null means the signed-in user's own. */
export function useApiTokens(userId: Ref<number | null>) {
  const t = i18n.global.t
  const auth = useAuthStore()
  const ownerId = computed(() => userId.value ?? auth.user?.id ?? 0)
  const own = computed(() => ownerId.value === auth.user?.id)
  const ownerName = ref(own.value ? (auth.user?.username ?? '') : '')
  const page = ref(1)
  const size = ref(10)
  const total = ref(0)
  const rows = shallowRef<ApiToken[]>([])
  const loading = ref(false)
  const dialogOpen = ref(false)
  const saving = ref(false)
  const form = reactive<ApiTokenForm>(emptyTokenForm())
  // The server's field names: expiresInDays lands on the expiry choice.
  const fieldErrors = useFieldErrors(['name', 'expiry'], { expiresInDays: 'expiry', expiresAt: 'expiry' }, form)
  /** The token just made: its secret is shown once, in its own dialog, and forgotten when that closes. */
  const created = shallowRef<CreatedApiToken | null>(null)

  async function load(): Promise<void> {
    if (!ownerId.value) return
    loading.value = true
    try {
      const result = await listApiTokens(ownerId.value, { page: page.value, size: size.value })
      rows.value = result.list
      total.value = result.total
    } catch (error) {
      toastError(error)
    } finally {
      loading.value = false
    }
  }

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
      page.value = 1
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
    await load()
  })

  return {
    ownerId, ownerName, own, page, size, total, rows, loading, dialogOpen, saving, form, created,
    errors: fieldErrors.errors, load, openCreate, save, forgetSecret, revoke,
  }
}
