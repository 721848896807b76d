/**
 * The record drawer of issue 20: a running execution shows its elapsed time and, for task:execute holders, a
 * Kill button that asks `POST /records/{id}/kill?year&month`; an execution of several calls lists them
 * (primary 503 → fallback 200).
 */
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { TaskRecord, UserInfo } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import RecordDrawer from '../RecordDrawer.vue'

const BASE: TaskRecord = {
  id: 41, taskId: 9, taskName: 'nightly', departmentId: 2, taskType: 'HTTP', triggerType: 'SCHEDULE',
  scheduledTime: '2026-12-05T08:00:00Z', startTime: null, endTime: null, status: 0, success: null,
  statusCode: null, response: null, error: null, costTime: null, retryTimes: 0, usedFallback: false,
  executor: 'node-1', instance: null, attempts: null, takenOverFrom: null, parentRecordId: null, parentYear: null,
  parentMonth: null, createTime: '2026-12-05T08:00:00Z', updateTime: '2026-12-05T08:00:00Z',
} as TaskRecord

let pinia: Pinia
let calls: string[]
enableAutoUnmount(afterEach)

function serve(record: TaskRecord): void {
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://djs.test')
    calls.push(`${init?.method ?? 'GET'} ${url.pathname}${url.search}`)
    const ok = (data: unknown) =>
      new Response(JSON.stringify({ code: 0, message: 'success', data }), {
        status: 200, headers: { 'Content-Type': 'application/json' },
      })
    if (url.pathname === `/v1/records/${record.id}`) return ok(record)
    if (url.pathname === `/v1/records/${record.id}/kill`) return ok({ recordId: record.id, taskId: 9, killRequested: true })
    if (url.pathname === '/v1/records') return ok({ list: [], total: 0, hasMore: false, nextCursor: null })
    return ok(null)
  })
}

async function render(record: TaskRecord, codes: string[]) {
  serve(record)
  useAuthStore().user = { id: 1, username: 'u', departmentId: 2, permissions: codes } as unknown as UserInfo
  const wrapper = mount(RecordDrawer, {
    props: { record, modelValue: true, month: { year: 2026, month: 12 } },
    global: { plugins: [pinia, i18n] }, attachTo: document.body,
  })
  await flushPromises()
  return wrapper
}

describe('record drawer', () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  beforeEach(() => {
    localStorage.clear()
    localStorage.setItem('djs.tokens', JSON.stringify({ token: 'A1', refreshToken: 'R1' }))
    pinia = createPinia()
    setActivePinia(pinia)
    calls = []
    document.body.innerHTML = ''
  })

  it('shows a running execution with its elapsed time and kills it on confirmation', async () => {
    const running = { ...BASE, startTime: new Date(Date.now() - 65_000).toISOString() }
    await render(running, ['record:view', 'task:execute'])
    expect(document.querySelector('[data-testid="record-elapsed"]')?.textContent).toContain('running for 1')
    const kill = document.querySelector('[data-testid="record-kill"]') as HTMLButtonElement
    expect(kill).not.toBeNull()
    kill.click()
    // The confirmation pops up after its transition: wait for its buttons, then confirm.
    const confirm = await vi.waitFor(() => {
      const button = [...document.querySelectorAll('.el-popconfirm button')].pop() as HTMLButtonElement | undefined
      if (!button) throw new Error('no confirmation yet')
      return button
    }, { timeout: 3000 })
    confirm.click()
    await vi.waitFor(() => expect(calls).toContain('POST /v1/records/41/kill?year=2026&month=12'), { timeout: 3000 })
  })

  it('offers no Kill without task:execute, nor for a run still waiting for its start', async () => {
    await render({ ...BASE, startTime: new Date().toISOString() }, ['record:view'])
    expect(document.querySelector('[data-testid="record-kill"]')).toBeNull()
    document.body.innerHTML = ''
    await render(BASE, ['record:view', 'task:execute'])
    expect(document.querySelector('[data-testid="record-kill"]')).toBeNull()
    expect(document.querySelector('[data-testid="record-elapsed"]')).toBeNull()
  })

  it('lists each call of an execution that made several', async () => {
    const done: TaskRecord = {
      ...BASE, status: 1, success: true, statusCode: 200, usedFallback: true,
      startTime: '2026-12-05T08:00:00Z', endTime: '2026-12-05T08:00:01Z',
      attempts: [
        { attempt: 0, target: 'primary', instance: null, statusCode: 503, costMs: 12, error: 'HTTP 503 Service Unavailable' },
        { attempt: 0, target: 'fallback', instance: null, statusCode: 200, costMs: 8, error: null },
      ],
    }
    await render(done, ['record:view'])
    const items = [...document.querySelectorAll('[data-testid="record-attempts"] li')].map((li) => li.textContent ?? '')
    expect(items).toHaveLength(2)
    expect(items[0]).toContain('primary')
    expect(items[0]).toContain('503')
    expect(items[1]).toContain('fallback')
    expect(items[1]).toContain('200')
  })
})
