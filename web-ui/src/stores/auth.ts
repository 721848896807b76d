import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import * as authApi from '@/api/auth'
import { http } from '@/api/http'
import type { UserInfo } from '@/api/types'
import { hasPermission, type Requirement } from '@/utils/permission'

/** The signed-in user and their permission codes. Tokens live in the HTTP client's token store. */
export const useAuthStore = defineStore('auth', () => {
  const user = ref<UserInfo | null>(null)
  const hasToken = ref<boolean>(Boolean(http.store.access))

  const permissions = computed(() => new Set(user.value?.permissions ?? []))
  const loggedIn = computed(() => hasToken.value && user.value !== null)

  function can(required: Requirement, mode: 'all' | 'any' = 'all'): boolean {
    return hasPermission(permissions.value, required, mode)
  }

  async function login(username: string, password: string): Promise<UserInfo> {
    const result = await authApi.login(username, password)
    http.store.save(result)
    hasToken.value = true
    user.value = result.user
    return result.user
  }

  /** The user asked for ahead of the first navigation (`prefetchUser`), until `loadUser` takes it over. */
  let pendingUser: Promise<UserInfo> | null = null

  /**
   * Start asking for the current user while the console is still starting (main.ts: beside the language
   * catalog), so the first page's guard does not wait for one request after the other (issue 20, first rows).
   */
  function prefetchUser(): void {
    if (!hasToken.value || user.value || pendingUser) return
    pendingUser = authApi.userinfo()
    pendingUser.catch(() => undefined) // answered by loadUser(), which reads the same promise
  }

  /** Fetch the current user (after a reload); the client refreshes the token if it expired. */
  async function loadUser(): Promise<UserInfo> {
    const request = pendingUser ?? authApi.userinfo()
    pendingUser = null
    const info = await request
    user.value = info
    hasToken.value = true
    return info
  }

  /** Forget the session locally (after logout, a failed refresh, or a password change). */
  function reset(): void {
    pendingUser = null
    http.store.clear()
    hasToken.value = false
    user.value = null
  }

  async function logout(): Promise<void> {
    try {
      if (http.store.access) await authApi.logout()
    } catch {
      // The session is dropped locally whatever the server answered (it may already be revoked).
    } finally {
      reset()
    }
  }

  function refreshed(data: unknown): void {
    hasToken.value = true
    const next = (data as { user?: UserInfo } | null)?.user
    if (next) user.value = next
  }

  return { user, hasToken, permissions, loggedIn, can, login, prefetchUser, loadUser, reset, logout, refreshed }
})
