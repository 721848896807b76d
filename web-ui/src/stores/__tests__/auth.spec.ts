/** The signed-in user asked for while the console starts (main.ts), taken over by the first page's guard. */
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { UserInfo } from '@/api/types'

const userinfo = vi.fn<() => Promise<UserInfo>>()
vi.mock('@/api/auth', () => ({ userinfo: () => userinfo() }))

const { http } = await import('@/api/http')
const { useAuthStore } = await import('../auth')

const ADA = { id: 7, username: 'ada', permissions: ['task:view'] } as unknown as UserInfo

describe('auth store: the user asked for ahead of the first page', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    http.store.save({ token: 'a'.repeat(20), refreshToken: 'r'.repeat(20) } as never)
    userinfo.mockReset()
  })
  afterEach(() => http.store.clear())

  it('asks once: the guard takes over the request started while the console was starting', async () => {
    let answer: ((user: UserInfo) => void) | undefined
    userinfo.mockImplementation(() => new Promise((resolve) => (answer = resolve)))
    const auth = useAuthStore()
    auth.prefetchUser()
    auth.prefetchUser() // started once
    expect(userinfo).toHaveBeenCalledTimes(1)
    expect(auth.user).toBeNull() // not signed in until the guard reads it
    const loaded = auth.loadUser()
    answer!(ADA)
    await expect(loaded).resolves.toEqual(ADA)
    expect(auth.user).toEqual(ADA)
    expect(userinfo).toHaveBeenCalledTimes(1)

    userinfo.mockResolvedValue(ADA)
    await auth.loadUser() // a later load asks again
    expect(userinfo).toHaveBeenCalledTimes(2)
  })

  it('hands a failed early request to the guard, which then signs out as before', async () => {
    userinfo.mockRejectedValue(new Error('revoked'))
    const auth = useAuthStore()
    auth.prefetchUser()
    await Promise.resolve()
    await expect(auth.loadUser()).rejects.toThrow('revoked')
    expect(userinfo).toHaveBeenCalledTimes(1)
  })

  it('asks nothing without a token, and forgets an early request on sign-out', async () => {
    userinfo.mockResolvedValue(ADA)
    const auth = useAuthStore()
    auth.reset()
    auth.prefetchUser()
    expect(userinfo).not.toHaveBeenCalled()

    http.store.save({ token: 'b'.repeat(20), refreshToken: 'r'.repeat(20) } as never)
    const again = useAuthStore()
    again.hasToken = true
    again.prefetchUser()
    again.reset()
    http.store.save({ token: 'c'.repeat(20), refreshToken: 'r'.repeat(20) } as never)
    await again.loadUser()
    expect(userinfo).toHaveBeenCalledTimes(2) // the one dropped on sign-out is not reused
  })
})
