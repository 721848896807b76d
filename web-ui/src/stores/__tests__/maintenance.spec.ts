import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { ApiError } from '@/api/http'
import type { SchedulerState } from '@/api/types'
import { useMaintenanceStore } from '../maintenance'

const RUNNING: SchedulerState = { paused: false, pausedAt: null, pausedBy: null, reason: '' }
const PAUSED: SchedulerState = {
  paused: true,
  pausedAt: '2026-05-01T08:00:00Z',
  pausedBy: { id: 1, username: 'admin' },
  reason: 'database upgrade',
}

interface Call {
  method: string
  path: string
  body: unknown
}

/** The browser's fetch answering like the /v1 API; records every call. */
function serve(answer: (call: Call) => { status?: number; json: unknown }): Call[] {
  const calls: Call[] = []
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://djs.test')
    const call = { method: init?.method ?? 'GET', path: url.pathname, body: init?.body ? JSON.parse(String(init.body)) : undefined }
    calls.push(call)
    const { status = 200, json } = answer(call)
    return new Response(JSON.stringify(json), { status, headers: { 'Content-Type': 'application/json' } })
  })
  return calls
}

const ok = (data: unknown) => ({ json: { code: 0, message: 'success', data } })

describe('maintenance store', () => {
  beforeEach(() => {
    localStorage.setItem('djs.tokens', JSON.stringify({ token: 'A1', refreshToken: 'R1' }))
    setActivePinia(createPinia())
  })

  it('reads the switch', async () => {
    const calls = serve(() => ok(PAUSED))
    const store = useMaintenanceStore()
    expect(store.paused).toBe(false)
    await store.load()
    expect(calls).toEqual([{ method: 'GET', path: '/v1/scheduler/state', body: undefined }])
    expect(store.paused).toBe(true)
    expect(store.state).toEqual(PAUSED)
  })

  it('pauses with the trimmed reason, or with an empty body, and resumes', async () => {
    const calls = serve((call) => ok(call.path.endsWith('/pause') ? PAUSED : RUNNING))
    const store = useMaintenanceStore()
    const pausing = store.pause('  database upgrade ')
    expect(store.busy).toBe(true)
    await pausing
    expect(store.busy).toBe(false)
    expect(store.paused).toBe(true)
    await store.pause('   ')
    await store.resume()
    expect(store.paused).toBe(false)
    expect(calls.map((c) => [c.method, c.path, c.body])).toEqual([
      ['POST', '/v1/scheduler/pause', { reason: 'database upgrade' }],
      ['POST', '/v1/scheduler/pause', {}],
      ['POST', '/v1/scheduler/resume', {}],
    ])
  })

  it('refuses a reason over 255 characters without asking the API', async () => {
    const calls = serve(() => ok(PAUSED))
    const store = useMaintenanceStore()
    await expect(store.pause('x'.repeat(256))).rejects.toThrow(RangeError)
    expect(calls).toEqual([])
    expect(store.state).toBeNull()
  })

  it('keeps the state it had when the API refuses (4003 without system:manage)', async () => {
    serve((call) =>
      call.method === 'GET'
        ? ok(RUNNING)
        : { status: 403, json: { code: 4003, message: 'permission denied: requires system:manage', data: null } },
    )
    const store = useMaintenanceStore()
    await store.load()
    const error = (await store.pause('x').catch((e: unknown) => e)) as ApiError
    expect(error.code).toBe(4003)
    expect(store.state).toEqual(RUNNING)
    expect(store.busy).toBe(false)
  })
})
