/**
 * Live output (issue 20): while a SHELL execution runs, the drawer asks `/records/{id}/log?offset=` every second
 * and appends what was written; it stops once the record is final (after reading the tail) or the drawer closes.
 */
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { TaskRecord, UserInfo } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import RecordDrawer from '../RecordDrawer.vue'
import { LIVE_POLL_MS } from '../useRecordLog'

const RUNNING = {
  id: 41, taskId: 9, taskName: 'backup', departmentId: 2, taskType: 'SHELL', triggerType: 'MANUAL',
  scheduledTime: '2026-12-05T08:00:00Z', startTime: '2026-12-05T08:00:00Z', endTime: null, status: 0, success: null,
  statusCode: null, response: null, error: null, costTime: null, retryTimes: 0, usedFallback: false,
  executor: 'node-1', instance: null, attempts: null, takenOverFrom: null, parentRecordId: null, parentYear: null,
  parentMonth: null, createTime: '2026-12-05T08:00:00Z', updateTime: '2026-12-05T08:00:00Z',
} as unknown as TaskRecord

let output: string
let finished: boolean
let logOffsets: number[]
enableAutoUnmount(afterEach)

function serve(): void {
  vi.stubGlobal('fetch', async (input: RequestInfo | URL) => {
    const url = new URL(String(input), 'http://djs.test')
    const ok = (data: unknown) =>
      new Response(JSON.stringify({ code: 0, message: 'success', data }), { status: 200, headers: { 'Content-Type': 'application/json' } })
    if (url.pathname === '/v1/records/41/log') {
      const offset = Number(url.searchParams.get('offset'))
      logOffsets.push(offset)
      const bytes = new TextEncoder().encode(output)
      return ok({
        recordId: 41, taskId: 9, exists: true, size: bytes.length, offset,
        content: new TextDecoder().decode(bytes.slice(offset)), nextOffset: null, executor: 'node-1',
      })
    }
    if (url.pathname === '/v1/records/41') {
      return ok(finished ? { ...RUNNING, status: 1, success: true, statusCode: 0, endTime: '2026-12-05T08:00:05Z' } : RUNNING)
    }
    if (url.pathname === '/v1/records') return ok({ list: [], total: 0, hasMore: false, nextCursor: null })
    return ok(null)
  })
}

const text = (testid: string) => document.querySelector(`[data-testid="${testid}"]`)?.textContent ?? null

async function tick(): Promise<void> {
  vi.advanceTimersByTime(LIVE_POLL_MS)
  await flushPromises()
}

describe('live output of a running SHELL execution', () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    localStorage.setItem('djs.tokens', JSON.stringify({ token: 'A1', refreshToken: 'R1' }))
    setActivePinia(createPinia())
    document.body.innerHTML = ''
    output = 'one\n'
    finished = false
    logOffsets = []
    serve()
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  async function render() {
    const pinia = createPinia()
    setActivePinia(pinia)
    useAuthStore().user = { id: 1, username: 'u', departmentId: 2, permissions: ['record:view'] } as unknown as UserInfo
    const wrapper = mount(RecordDrawer, {
      props: { record: RUNNING, modelValue: true, month: { year: 2026, month: 12 } },
      global: { plugins: [pinia, i18n] }, attachTo: document.body,
    })
    await flushPromises()
    return wrapper
  }

  it('appends new output every second and stops once the record is final', async () => {
    await render()
    expect(text('record-log')).toBe('one\n')
    expect(text('record-log-live')).toBe('Live')

    output += 'two\n'
    await tick()
    expect(text('record-log')).toBe('one\ntwo\n')
    expect(logOffsets.at(-1)).toBe(4) // only what is new

    output += 'three\n'
    finished = true
    await tick()
    await tick()
    expect(text('record-log')).toBe('one\ntwo\nthree\n')
    expect(text('record-drawer-status')).toContain('Success')
    expect(text('record-log-live')).toBeNull()

    const asked = logOffsets.length
    await tick()
    await tick()
    expect(logOffsets.length).toBe(asked) // no more polling after the end
  })

  it('stops polling when the drawer closes', async () => {
    const wrapper = await render()
    await wrapper.setProps({ modelValue: false })
    await flushPromises()
    const asked = logOffsets.length
    output += 'more\n'
    await tick()
    await tick()
    expect(logOffsets.length).toBe(asked)
  })
})
