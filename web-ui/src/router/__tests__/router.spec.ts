import { describe, expect, it } from 'vitest'
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
