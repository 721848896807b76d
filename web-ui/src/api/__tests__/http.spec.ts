import { describe, expect, it, vi } from 'vitest'
import {
  ApiError,
  ErrorCode,
  HttpClient,
  buildQuery,
  memoryTokenStore,
  storageTokenStore,
  type LockRunner,
  type TokenStore,
} from '../http'

type Handler = (req: { method: string; path: string; headers: Record<string, string>; body: unknown }) =>
  | { status?: number; json?: unknown; text?: string }
  | Promise<{ status?: number; json?: unknown; text?: string }>

interface Call {
  method: string
  path: string
  auth: string | undefined
  body: unknown
}

/** A fetch that answers like the /v1 API, recording every call. */
function fakeFetch(handler: Handler) {
  const calls: Call[] = []
  const fetchImpl = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://djs.test')
    const headers = (init?.headers ?? {}) as Record<string, string>
    const body = init?.body ? JSON.parse(String(init.body)) : undefined
    const method = init?.method ?? 'GET'
    calls.push({ method, path: url.pathname + url.search, auth: headers.Authorization, body })
    const answer = await handler({ method, path: url.pathname, headers, body })
    const text = answer.text ?? JSON.stringify(answer.json)
    return new Response(text, { status: answer.status ?? 200, headers: { 'Content-Type': 'application/json' } })
  })
  return { fetchImpl: fetchImpl as unknown as typeof fetch, calls }
}

const ok = (data: unknown) => ({ json: { code: 0, message: 'success', data } })
const fail = (code: number, status: number, message: string, data: unknown = null) => ({ status, json: { code, message, data } })
const expired = () => fail(4010, 401, 'token expired')

/** The error a request failed with (the test fails if it succeeded). */
async function caught(request: Promise<unknown>): Promise<ApiError> {
  try {
    await request
  } catch (error) {
    return error as ApiError
  }
  throw new Error('expected the request to fail')
}

/** Resolves after the microtask queue drained and pending timers ran (lets concurrent requests interleave). */
const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

function client(handler: Handler, store: TokenStore = memoryTokenStore({ token: 'A1', refreshToken: 'R1' }), lock?: LockRunner) {
  const { fetchImpl, calls } = fakeFetch(handler)
  const onSessionExpired = vi.fn()
  const onRefreshed = vi.fn()
  const http = new HttpClient({ baseUrl: '/v1', store, fetch: fetchImpl, lock: lock ?? ((_n, fn) => fn()), onSessionExpired, onRefreshed })
  return { http, calls, store, onSessionExpired, onRefreshed }
}

describe('envelope unwrapping', () => {
  it('resolves with data and sends the bearer token and JSON body', async () => {
    const { http, calls } = client(() => ok({ id: 7 }))
    await expect(http.post('/tasks/http', { name: 'x' })).resolves.toEqual({ id: 7 })
    expect(calls).toEqual([{ method: 'POST', path: '/v1/tasks/http', auth: 'Bearer A1', body: { name: 'x' } }])
  })

  it('builds query strings without empty values', async () => {
    const { http, calls } = client(() => ok({ list: [] }))
    await http.get('/tasks', { page: 1, keyword: '', departmentId: undefined, status: 0, taskType: null })
    expect(calls[0]?.path).toBe('/v1/tasks?page=1&status=0')
    expect(buildQuery({ cron: '*/5 * * * *', from: '2026-01-01T00:00:00+08:00' })).toBe(
      '?cron=*%2F5+*+*+*+*&from=2026-01-01T00%3A00%3A00%2B08%3A00',
    )
  })

  it('throws an ApiError carrying code, message, HTTP status and data.fields', async () => {
    const { http } = client(() =>
      fail(4001, 400, 'cron: invalid', { fields: { cron: ['bad field count'], 'headers.X': ['no'] } }),
    )
    const error = await caught(http.post('/tasks/http', {}))
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ code: 4001, status: 400, message: 'cron: invalid' })
    expect(error.fields).toEqual({ cron: ['bad field count'], 'headers.X': ['no'] })
    expect(error.hasFields).toBe(true)
  })

  it.each([
    [4003, 403],
    [4004, 404],
    [4009, 409],
    [4029, 429],
    [5000, 500],
  ])('maps code %i to an ApiError without fields', async (code, status) => {
    const { http } = client(() => fail(code, status, `error ${code}`))
    const error = await caught(http.get('/x'))
    expect(error).toMatchObject({ code, status, message: `error ${code}`, fields: {} })
    expect(error.hasFields).toBe(false)
  })

  it('reports an answer that is not JSON', async () => {
    const { http } = client(() => ({ status: 502, text: '<html>Bad gateway</html>' }))
    await expect(http.get('/x')).rejects.toMatchObject({ code: ErrorCode.NETWORK, status: 502 })
  })

  it('reports a network failure as ApiError NETWORK', async () => {
    const http = new HttpClient({
      baseUrl: '/v1',
      store: memoryTokenStore(),
      fetch: (() => Promise.reject(new TypeError('Failed to fetch'))) as typeof fetch,
    })
    await expect(http.get('/x')).rejects.toMatchObject({ code: ErrorCode.NETWORK, message: 'network error: Failed to fetch' })
  })
})

describe('single-flight refresh on 4010', () => {
  /** The API: access token `current` is valid, refresh token `refresh` can be used once. */
  function api(delayRefresh = true) {
    const state = { current: 'A1', refresh: 'R1', refreshCalls: 0, reused: false }
    const handler: Handler = async ({ path, headers, body }) => {
      if (path === '/v1/auth/refresh') {
        state.refreshCalls += 1
        if (delayRefresh) await tick()
        const presented = (body as { refreshToken: string }).refreshToken
        if (presented !== state.refresh) {
          state.reused = true
          return fail(4010, 401, 'refresh token reuse detected')
        }
        state.current = `A${state.refreshCalls + 1}`
        state.refresh = `R${state.refreshCalls + 1}`
        return ok({ token: state.current, refreshToken: state.refresh, expiresIn: 3600, tokenType: 'Bearer', user: { id: 1 } })
      }
      if (headers.Authorization !== `Bearer ${state.current}`) return expired()
      return ok({ path })
    }
    return { state, handler }
  }

  it('refreshes once for concurrent 4010s and retries every request with the new token', async () => {
    const { state, handler } = api()
    state.current = 'A-server-rotated' // the stored A1 is expired
    const { http, calls, store, onRefreshed, onSessionExpired } = client(handler)
    const results = await Promise.all([http.get('/tasks'), http.get('/records'), http.get('/nodes')])
    expect(results).toEqual([{ path: '/v1/tasks' }, { path: '/v1/records' }, { path: '/v1/nodes' }])
    expect(state.refreshCalls).toBe(1)
    expect(state.reused).toBe(false)
    expect(calls.filter((c) => c.path === '/v1/auth/refresh')).toHaveLength(1)
    expect(calls.filter((c) => c.path === '/v1/tasks').map((c) => c.auth)).toEqual(['Bearer A1', 'Bearer A2'])
    // The rotated pair is persisted, so the next refresh presents R2, never R1 again.
    expect({ access: store.access, refresh: store.refresh }).toEqual({ access: 'A2', refresh: 'R2' })
    expect(onRefreshed).toHaveBeenCalledTimes(1)
    expect(onSessionExpired).not.toHaveBeenCalled()
  })

  it('does not refresh again for a late 4010 of a request sent with the old token', async () => {
    const { state, handler } = api(false)
    state.current = 'expired-everything'
    let release: () => void = () => undefined
    let gated = false
    const slow: Handler = async (req) => {
      if (req.path === '/v1/slow' && !gated) {
        gated = true
        await new Promise<void>((resolve) => (release = resolve))
      }
      return handler(req)
    }
    const { http } = client(slow)
    const late = http.get('/slow') // sent with A1, answered only after the refresh below
    await tick()
    await expect(http.get('/tasks')).resolves.toEqual({ path: '/v1/tasks' })
    expect(state.refreshCalls).toBe(1)
    release()
    await expect(late).resolves.toEqual({ path: '/v1/slow' })
    expect(state.refreshCalls).toBe(1)
    expect(state.reused).toBe(false)
  })

  it('a second wave of 4010s after a completed refresh starts a new single refresh', async () => {
    const { state, handler } = api()
    state.current = 'expired-1'
    const { http } = client(handler)
    await Promise.all([http.get('/a'), http.get('/b')])
    state.current = 'expired-2' // the new access token expires too
    await Promise.all([http.get('/a'), http.get('/b')])
    expect(state.refreshCalls).toBe(2)
    expect(state.reused).toBe(false)
  })

  it('when the refresh fails: tokens dropped, session expiry reported once, every request rejected with 4010', async () => {
    const handler: Handler = ({ path }) =>
      path === '/v1/auth/refresh' ? fail(4010, 401, 'refresh token revoked') : expired()
    const { http, store, onSessionExpired, calls } = client(handler)
    const results = await Promise.allSettled([http.get('/a'), http.get('/b')])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    for (const r of results) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 4010, message: 'refresh token revoked' })
    expect(calls.filter((c) => c.path === '/v1/auth/refresh')).toHaveLength(1)
    expect(store.access).toBeNull()
    expect(store.refresh).toBeNull()
    expect(onSessionExpired).toHaveBeenCalledTimes(1)
  })

  it('a refresh that fails on the network also ends the session (the refresh token may be spent)', async () => {
    let n = 0
    const fetchImpl = (async (input: RequestInfo | URL) => {
      n += 1
      if (String(input).endsWith('/auth/refresh')) throw new TypeError('connection reset')
      return new Response(JSON.stringify({ code: 4010, message: 'token expired', data: null }), { status: 401 })
    }) as typeof fetch
    const onSessionExpired = vi.fn()
    const store = memoryTokenStore({ token: 'A1', refreshToken: 'R1' })
    const http = new HttpClient({ baseUrl: '/v1', store, fetch: fetchImpl, lock: (_n, fn) => fn(), onSessionExpired })
    await expect(http.get('/a')).rejects.toMatchObject({ code: ErrorCode.NETWORK })
    expect(n).toBe(2)
    expect(onSessionExpired).toHaveBeenCalledTimes(1)
    expect(store.access).toBeNull()
  })

  it('without a refresh token the session ends without calling /auth/refresh', async () => {
    const store = memoryTokenStore()
    const { http, calls, onSessionExpired } = client(() => expired(), store)
    await expect(http.get('/a')).rejects.toMatchObject({ code: 4010 })
    expect(calls.map((c) => c.path)).toEqual(['/v1/a'])
    expect(onSessionExpired).toHaveBeenCalledTimes(1)
  })

  it('a 4010 on an unauthenticated call (wrong password at login) is just an error', async () => {
    const { http, calls, onSessionExpired, store } = client(() => fail(4010, 401, 'invalid username or password'))
    await expect(http.post('/auth/login', { username: 'a', password: 'b' }, { auth: false })).rejects.toMatchObject({
      code: 4010,
      message: 'invalid username or password',
    })
    expect(calls).toHaveLength(1)
    expect(calls[0]?.auth).toBeUndefined()
    expect(onSessionExpired).not.toHaveBeenCalled()
    expect(store.access).toBe('A1')
  })

  it('a fresh token refused again (account disabled meanwhile) ends the session', async () => {
    const handler: Handler = ({ path }) =>
      path === '/v1/auth/refresh' ? ok({ token: 'A2', refreshToken: 'R2' }) : fail(4010, 401, 'account disabled')
    const { http, onSessionExpired, store, calls } = client(handler)
    await expect(http.get('/a')).rejects.toMatchObject({ code: 4010, message: 'account disabled' })
    expect(calls.map((c) => c.path)).toEqual(['/v1/a', '/v1/auth/refresh', '/v1/a'])
    expect(onSessionExpired).toHaveBeenCalledTimes(1)
    expect(store.access).toBeNull()
  })

  it('another tab that refreshed while this one waited for the lock is reused, not refreshed again', async () => {
    const store = memoryTokenStore({ token: 'A1', refreshToken: 'R1' })
    // The lock is held by "another tab", which rotates the shared tokens before letting us in.
    const lock: LockRunner = async (_name, fn) => {
      store.save({ token: 'A2', refreshToken: 'R2' })
      return fn()
    }
    let refreshCalls = 0
    const handler: Handler = ({ path, headers }) => {
      if (path === '/v1/auth/refresh') {
        refreshCalls += 1
        return fail(4010, 401, 'refresh token reuse detected')
      }
      return headers.Authorization === 'Bearer A2' ? ok('fine') : expired()
    }
    const { http } = client(handler, store, lock)
    await expect(http.get('/a')).resolves.toBe('fine')
    expect(refreshCalls).toBe(0)
  })
})

describe('storageTokenStore', () => {
  it('persists the pair in localStorage and reads it fresh', () => {
    localStorage.clear()
    const a = storageTokenStore(localStorage, 'k')
    const b = storageTokenStore(localStorage, 'k') // e.g. another tab
    a.save({ token: 't', refreshToken: 'r' })
    expect([b.access, b.refresh]).toEqual(['t', 'r'])
    b.clear()
    expect(a.access).toBeNull()
  })

  it('ignores corrupt stored values', () => {
    localStorage.setItem('k', '{not json')
    expect(storageTokenStore(localStorage, 'k').access).toBeNull()
    localStorage.setItem('k', JSON.stringify({ token: 1 }))
    expect(storageTokenStore(localStorage, 'k').refresh).toBeNull()
  })
})
