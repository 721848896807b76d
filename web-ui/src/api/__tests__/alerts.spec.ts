import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { ApiError } from '../http'
import {
  createAlertPolicy,
  deleteAlertPolicy,
  getAlert,
  getAlertPolicy,
  listAlertPolicies,
  listAlerts,
  testAlertPolicy,
  updateAlertPolicy,
} from '../alerts'

interface Call {
  method: string
  path: string
  query: Record<string, string>
  body: unknown
}

/** The browser's fetch answering like the /v1 API; records every call. */
function serve(answer: (call: Call) => { status?: number; json: unknown }): Call[] {
  const calls: Call[] = []
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://djs.test')
    const call = {
      method: init?.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    }
    calls.push(call)
    const { status = 200, json } = answer(call)
    return new Response(JSON.stringify(json), { status, headers: { 'Content-Type': 'application/json' } })
  })
  return calls
}

const ok = (data: unknown) => ({ json: { code: 0, message: 'success', data } })
const EMPTY_PAGE = { list: [], total: 0, page: 1, size: 20 }

describe('alerts api', () => {
  beforeEach(() => {
    localStorage.setItem('djs.tokens', JSON.stringify({ token: 'A1', refreshToken: 'R1' }))
  })

  it('lists policies and alerts with only the filters given', async () => {
    const calls = serve(() => ok(EMPTY_PAGE))
    await listAlertPolicies({ taskId: 7, scope: 'task', departmentId: undefined, page: 1, size: 20 })
    await listAlertPolicies()
    await listAlerts({ kind: 'failure', status: undefined, taskId: 3, page: 2, size: 50 })
    expect(calls.map((c) => [c.method, c.path, c.query])).toEqual([
      ['GET', '/v1/alert-policies', { taskId: '7', scope: 'task', page: '1', size: '20' }],
      ['GET', '/v1/alert-policies', {}],
      ['GET', '/v1/alerts', { kind: 'failure', taskId: '3', page: '2', size: '50' }],
    ])
  })

  it('creates, reads, updates, tests and deletes a policy at its own paths', async () => {
    const calls = serve((call) => ok(call.method === 'DELETE' ? null : { id: 4 }))
    await createAlertPolicy({ taskId: 7, onFailure: true, webhookUrl: 'http://127.0.0.1:9/hook' })
    await getAlertPolicy(4)
    await updateAlertPolicy(4, { enabled: false })
    await testAlertPolicy(4)
    await getAlert(11)
    await deleteAlertPolicy(4)
    expect(calls.map((c) => [c.method, c.path, c.body])).toEqual([
      ['POST', '/v1/alert-policies', { taskId: 7, onFailure: true, webhookUrl: 'http://127.0.0.1:9/hook' }],
      ['GET', '/v1/alert-policies/4', undefined],
      ['PUT', '/v1/alert-policies/4', { enabled: false }],
      ['POST', '/v1/alert-policies/4/test', {}],
      ['GET', '/v1/alerts/11', undefined],
      ['DELETE', '/v1/alert-policies/4', undefined],
    ])
  })

  it('rejects with the field errors of a 4001 and the message of a 4009', async () => {
    serve((call) =>
      call.body && (call.body as { taskId?: number }).taskId === 1
        ? { status: 400, json: { code: 4001, message: 'invalid', data: { fields: { webhookUrl: ['give a webhook URL'] } } } }
        : { status: 409, json: { code: 4009, message: 'task 2 already has an alert policy (id 5); edit that one', data: null } },
    )
    const invalid = (await createAlertPolicy({ taskId: 1 }).catch((e: unknown) => e)) as ApiError
    expect([invalid.code, invalid.fields]).toEqual([4001, { webhookUrl: ['give a webhook URL'] }])
    const conflict = (await createAlertPolicy({ taskId: 2, onFailure: true }).catch((e: unknown) => e)) as ApiError
    expect([conflict.code, conflict.message]).toEqual([4009, 'task 2 already has an alert policy (id 5); edit that one'])
  })
})
