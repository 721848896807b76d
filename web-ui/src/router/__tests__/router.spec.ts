import { describe, expect, it, vi } from 'vitest'
import { isChunkLoadError, routes, safeRedirect } from '../index'

describe('safeRedirect', () => {
  it('only follows paths inside the console', () => {
    expect(safeRedirect('/tasks/12?x=1')).toBe('/tasks/12?x=1')
    expect(safeRedirect('//evil.example.com/')).toBe('/dashboard')
    expect(safeRedirect('https://evil.example.com/')).toBe('/dashboard')
    expect(safeRedirect('/login')).toBe('/dashboard')
    expect(safeRedirect(undefined)).toBe('/dashboard')
  })
})

describe('routes', () => {
  it('load every page lazily (its own chunk)', () => {
    const all = routes.flatMap((r) => [r, ...(r.children ?? [])]).filter((r) => 'component' in r && r.component)
    expect(all.length).toBeGreaterThan(10)
    for (const route of all) expect(typeof route.component, String(route.path)).toBe('function')
  })

  it('guard pages with the permission their API needs', () => {
    const byName = Object.fromEntries(routes.flatMap((r) => r.children ?? []).map((r) => [r.name, r.meta?.permission]))
    expect(byName).toMatchObject({
      tasks: 'task:view',
      'task-new': 'task:create',
      'task-edit': 'task:update',
      records: 'record:view',
      users: 'user:manage',
      roles: 'role:manage',
      audit: 'system:manage',
      executors: 'executor:view',
    })
  })
})

describe('isChunkLoadError', () => {
  it('recognises a lazy chunk that no longer exists after a new build', () => {
    expect(isChunkLoadError(new TypeError('Failed to fetch dynamically imported module: /v1/web/assets/X-1.js'))).toBe(true)
    expect(isChunkLoadError(new Error('Unable to preload CSS for /v1/web/assets/X.css'))).toBe(true)
    expect(isChunkLoadError(new Error('boom'))).toBe(false)
  })
})

describe('the first navigation of a signed-in cold load', () => {
  it("starts loading the page's code while the user is still being asked for", async () => {
    const { createPinia, setActivePinia } = await import('pinia')
    const { http } = await import('@/api/http')
    const { useAuthStore } = await import('@/stores/auth')
    const { router } = await import('../index')
    setActivePinia(createPinia())
    http.store.save({ token: 'a'.repeat(20), refreshToken: 'r'.repeat(20) } as never)
    const auth = useAuthStore()
    let answer: ((user: unknown) => void) | undefined
    const loadUser = vi.spyOn(auth, 'loadUser').mockImplementation(() => new Promise((resolve) => (answer = resolve as never)))
    const page = vi.fn(async () => ({ render: () => null }))
    router.addRoute({ path: '/warm-probe', name: 'warm-probe', component: page })
    const navigation = router.push('/warm-probe')
    await vi.waitFor(() => expect(loadUser).toHaveBeenCalled())
    expect(page).toHaveBeenCalled() // before the user has answered
    auth.user = { id: 1, username: 'a', permissions: [] } as never
    answer!(auth.user)
    await navigation
    expect(router.currentRoute.value.name).toBe('warm-probe')
    router.removeRoute('warm-probe')
    http.store.clear()
  })
})
