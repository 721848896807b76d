import { reactive, ref } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { isApiError } from '@/api/http'
import { safeRedirect } from '@/router'
import { useAuthStore } from '@/stores/auth'

export function useLogin() {
  const auth = useAuthStore()
  const route = useRoute()
  const router = useRouter()
  const form = reactive({ username: '', password: '' })
  const loading = ref(false)
  const error = ref('')
  const expired = ref(route.query.expired === '1')

  async function submit(): Promise<void> {
    error.value = ''
    loading.value = true
    try {
      await auth.login(form.username.trim(), form.password)
      expired.value = false
      await router.replace(safeRedirect(route.query.redirect))
    } catch (e) {
      error.value = isApiError(e) ? e.message : String(e)
    } finally {
      loading.value = false
    }
  }

  return { form, loading, error, expired, submit }
}
