/**
 * "Run with parameters" (issue 20): the dialog sends only the fields the user chose to override, after a
 * confirmation step listing them; the server's field errors land on their fields.
 */
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { nextTick } from 'vue'
import type { Task } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import RunWithParamsDialog from '../RunWithParamsDialog.vue'
import { runOverrides, runParamsFormFor } from '../useRunWithParams'

const TASK = {
  id: 9, name: 'nightly', taskType: 'HTTP', httpMethod: 'POST', url: 'https://jobs.example/run',
  headers: { 'X-Team': 'ops' }, body: '{"full": true}', grpcParams: null,
} as unknown as Task

let posts: { path: string; body: unknown }[]
let answer: { status: number; body: unknown }
enableAutoUnmount(afterEach)

function serve(): void {
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://djs.test')
    posts.push({ path: `${init?.method} ${url.pathname}`, body: init?.body ? JSON.parse(String(init.body)) : null })
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'Content-Type': 'application/json' } })
  })
}

const q = <T extends Element = HTMLElement>(testid: string) => document.querySelector<T>(`[data-testid="${testid}"]`)

async function open() {
  const wrapper = mount(RunWithParamsDialog, { global: { plugins: [createPinia(), i18n] }, attachTo: document.body })
  ;(wrapper.vm as unknown as { show: (task: Task) => void }).show(TASK)
  await flushPromises()
  return wrapper
}

/** Element Plus puts the test id on the textarea itself. */
const textarea = (testid: string) => document.querySelector<HTMLTextAreaElement>(`textarea[data-testid="${testid}"]`)!

async function type(testid: string, value: string): Promise<void> {
  const input = textarea(testid)
  input.value = value
  input.dispatchEvent(new Event('input'))
  await nextTick()
}

async function click(testid: string): Promise<void> {
  q<HTMLElement>(testid)!.click()
  await flushPromises()
}

describe('run with parameters', () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  beforeEach(() => {
    setActivePinia(createPinia())
    localStorage.setItem('djs.tokens', JSON.stringify({ token: 'A1', refreshToken: 'R1' }))
    document.body.innerHTML = ''
    posts = []
    answer = { status: 200, body: { code: 0, message: 'success', data: { triggerId: 1, taskId: 9, requestedAt: '2026-12-05T08:00:00Z' } } }
    serve()
  })

  it('sends only the overridden body after the confirmation', async () => {
    await open()
    expect(textarea('run-body').value).toBe('{"full": true}') // the task's own
    await click('run-override-body')
    await type('run-body', '{"full": false}')
    await click('run-params-next')
    expect(q('run-params-confirm')?.textContent).toContain('nightly')
    expect(q('run-params-summary')?.textContent).toContain('{"full": false}')
    expect(q('run-params-summary')?.textContent).not.toContain('X-Team')
    expect(posts).toHaveLength(0) // nothing sent before the confirmation
    await click('run-params-run')
    expect(posts).toEqual([{ path: 'POST /v1/tasks/9/trigger', body: { body: '{"full": false}' } }])
  })

  it('sends nothing to override when nothing is ticked, and headers as an object when they are', () => {
    const form = runParamsFormFor(TASK)
    expect(runOverrides(TASK, form)).toEqual({})
    form.overrideHeaders = true
    form.headers = '{"X-Run": "once"}'
    expect(runOverrides(TASK, form)).toEqual({ headers: { 'X-Run': 'once' } })
    const grpc = { ...TASK, taskType: 'GRPC', grpcParams: '{"a": 1}' } as Task
    const grpcForm = { ...runParamsFormFor(grpc), overrideBody: true, overrideParams: true, grpcParams: '{"a": 2}' }
    expect(runOverrides(grpc, grpcForm)).toEqual({ grpcParams: { a: 2 } }) // a body is no gRPC override
  })

  it('checks the headers before sending and shows the server field errors on the fields', async () => {
    await open()
    await click('run-override-headers')
    await type('run-headers', '[1]')
    await click('run-params-next')
    expect(q('run-params-confirm')).toBeNull()
    await vi.waitFor(() => expect(document.querySelector('.el-form-item__error')?.textContent).toContain('must be a JSON object'))

    await type('run-headers', '{"Host": "evil"}')
    await click('run-params-next')
    answer = { status: 400, body: { code: 4001, message: 'invalid', data: { fields: { headers: ['header Host cannot be set'] } } } }
    await click('run-params-run')
    expect(posts.map((p) => p.body)).toEqual([{ headers: { Host: 'evil' } }])
    await vi.waitFor(() => expect(document.querySelector('.el-form-item__error')?.textContent).toContain('header Host cannot be set'))
    expect(q('run-params-dialog')).not.toBeNull()
  })
})
