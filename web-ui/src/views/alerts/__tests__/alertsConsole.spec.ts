import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent } from 'vue'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import type { Alert, AlertPolicy, Task, UserInfo } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import { routes } from '@/router'
import { useAuthStore } from '@/stores/auth'
import AlertPoliciesTab from '../AlertPoliciesTab.vue'
import SentAlertsTab from '../SentAlertsTab.vue'
import TaskAlertsCard from '../TaskAlertsCard.vue'
import { useAlertPolicies } from '../useAlertPolicies'

const MARKUP = 'nightly <b>bold</b>'

function policy(overrides: Partial<AlertPolicy> = {}): AlertPolicy {
  return {
    id: 1, departmentId: 2, departmentName: 'Ops', taskId: 9, taskName: MARKUP, enabled: true, onFailure: true,
    consecutiveFailures: 0, autoPause: false, overrunSeconds: null, lagSeconds: null, webhookUrl: 'http://127.0.0.1:9/hook',
    hasWebhookSecret: false, emails: null, cooldownSeconds: null,
    createTime: '2026-01-01T00:00:00Z', updateTime: '2026-01-01T00:00:00Z', ...overrides,
  }
}

const TASK_POLICY = policy()
const DEPT_DEFAULT = policy({ id: 2, taskId: null, taskName: null, departmentName: 'Ops <i>team</i>', emails: ['ops@example.com'] })

const ALERT: Alert = {
  id: 31, departmentId: 2, policyId: 1, taskId: 9, taskName: MARKUP, kind: 'failure', recordId: 77, recordYear: 2026,
  recordMonth: 3, message: 'run failed: <b>boom</b>', status: 'partial', suppressed: 4, node: 'node-1',
  deliveries: [
    { channel: 'webhook', target: 'http://127.0.0.1:9/hook', ok: true, statusCode: 200, error: null },
    { channel: 'email', target: 'ops@example.com', ok: false, statusCode: null, error: '<b>550</b> refused' },
  ],
  createTime: '2026-03-02T10:00:00Z', updateTime: '2026-03-02T10:00:01Z',
}

const page = (list: unknown[]) => ({ list, total: list.length, page: 1, size: 20 })

/** The /v1 API for these components; records each call as "METHOD /path?query". */
function serve(policies: AlertPolicy[]): string[] {
  const calls: string[] = []
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://djs.test')
    const method = init?.method ?? 'GET'
    calls.push(`${method} ${url.pathname}${url.search}`)
    const q = url.searchParams
    let data: unknown = null
    if (url.pathname === '/v1/alert-policies') {
      data = page(policies.filter((p) =>
        (!q.get('taskId') || p.taskId === Number(q.get('taskId')))
        && (!q.get('departmentId') || p.departmentId === Number(q.get('departmentId')))
        && (q.get('scope') !== 'task' || p.taskId !== null)
        && (q.get('scope') !== 'department' || p.taskId === null)))
    } else if (url.pathname.endsWith('/test')) data = ALERT
    else if (url.pathname === '/v1/alerts') data = page([ALERT])
    else if (url.pathname === '/v1/departments') data = [{ id: 2, name: 'Ops', children: [] }]
    else if (url.pathname === '/v1/tasks') data = page([])
    return new Response(JSON.stringify({ code: 0, message: 'success', data }), { headers: { 'Content-Type': 'application/json' } })
  })
  return calls
}

let pinia: Pinia
let router: Router
enableAutoUnmount(afterEach)

function signIn(codes: string[]): void {
  useAuthStore().user = { id: 1, username: 'u', permissions: codes } as unknown as UserInfo
}

async function render<T>(component: T, props: Record<string, unknown> = {}) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const wrapper = mount(component as any, { props, global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

describe('alerts console', () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  beforeEach(async () => {
    localStorage.setItem('djs.tokens', JSON.stringify({ token: 'A1', refreshToken: 'R1' }))
    pinia = createPinia()
    setActivePinia(pinia)
    router = createRouter({ history: createMemoryHistory(), routes })
    await router.push('/forbidden').catch(() => undefined)
    document.body.innerHTML = ''
  })

  it('is reachable with task:view or record:view', () => {
    const alerts = routes.flatMap((r) => r.children ?? []).find((r) => r.name === 'alerts')
    expect(alerts?.meta).toMatchObject({ permission: ['task:view', 'record:view'], permissionMode: 'any' })
  })

  it('lets a holder of task:update edit task policies only; department defaults stay read-only', async () => {
    serve([TASK_POLICY, DEPT_DEFAULT])
    signIn(['task:view', 'task:update'])
    const wrapper = await render(AlertPoliciesTab)
    expect(wrapper.find('[data-testid="policy-create"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="policy-actions-1"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="policy-actions-2"]').exists()).toBe(false)
    expect(wrapper.findAll('[data-testid="policy-enabled"]')).toHaveLength(1)
    expect(wrapper.findAll('[data-testid="policy-enabled-tag"]')).toHaveLength(1)
    // Names are text: the markup in them is shown, never rendered.
    const scopes = wrapper.findAll('[data-testid="policy-scope"]').map((s) => s.text())
    expect(scopes).toEqual([`Task: ${MARKUP}`, 'Department default: Ops <i>team</i>'])
    expect(wrapper.find('b').exists()).toBe(false)
    expect(wrapper.findAll('i').filter((e) => e.text() === 'team')).toHaveLength(0) // (Element Plus icons are <i>)
    expect(wrapper.find('[data-testid="policy-channels"]').text()).toContain('Webhook http://127.0.0.1:9/hook')
  })

  it('offers nothing to change without task:update or department:manage', async () => {
    serve([TASK_POLICY, DEPT_DEFAULT])
    signIn(['task:view'])
    const wrapper = await render(AlertPoliciesTab)
    expect(wrapper.find('[data-testid="policy-create"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid^="policy-actions-"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="policy-enabled"]').exists()).toBe(false)
  })

  it('shows the outcome of each channel after "Send test"', async () => {
    const calls = serve([DEPT_DEFAULT])
    signIn(['task:view', 'department:manage', 'record:view'])
    const wrapper = await render(AlertPoliciesTab)
    await wrapper.find('[data-testid="policy-actions-2"] [data-testid="policy-test"]').trigger('click')
    await flushPromises()
    expect(calls).toContain('POST /v1/alert-policies/2/test')
    const result = document.body.querySelector('[data-testid="policy-test-result"]')
    expect(result?.querySelector('[data-testid="policy-test-status"]')?.textContent?.trim()).toBe('Partly sent')
    const outcomes = [...(result?.querySelectorAll('[data-testid="policy-test-delivery"]') ?? [])].map((e) => e.textContent?.trim())
    expect(outcomes).toEqual(['Delivered', 'Failed'])
    const errors = [...(result?.querySelectorAll('[data-testid="policy-test-error"]') ?? [])].map((e) => e.textContent)
    expect(errors).toContain('<b>550</b> refused')
    expect(result?.querySelector('b')).toBeNull()
  })

  it('lists sent alerts with kind, status, deliveries, suppressed count and the record, as text', async () => {
    const calls = serve([])
    signIn(['task:view', 'record:view'])
    await router.push('/alerts?tab=sent&taskId=9') // the task filter comes from the URL (issue 20)
    const wrapper = await render(SentAlertsTab)
    expect(calls).toContain('GET /v1/alerts?page=1&size=20&taskId=9')
    expect(wrapper.find('[data-testid="alert-message"]').text()).toBe('run failed: <b>boom</b>')
    expect(wrapper.find('[data-testid="alert-task"]').text()).toBe(MARKUP)
    expect(wrapper.find('[data-testid="alert-task"]').attributes('href')).toBe('/tasks/9')
    expect(wrapper.find('[data-testid="alert-status"]').attributes('data-status')).toBe('partial')
    expect(wrapper.find('[data-testid="alert-delivery-summary"]').text()).toContain('1/2 delivered')
    expect(wrapper.find('[data-testid="alert-suppressed"]').text()).toBe('+4')
    expect(wrapper.find('[data-testid="alert-record"]').text()).toBe('#77')
    expect(wrapper.find('b').exists()).toBe(false)
  })

  it('shows on the task page the department default when the task has no policy of its own', async () => {
    const calls = serve([DEPT_DEFAULT])
    signIn(['task:view', 'task:update'])
    const task = { id: 9, departmentId: 2 } as Task
    const wrapper = await render(TaskAlertsCard, { task })
    expect(calls).toEqual([
      'GET /v1/alert-policies?taskId=9&scope=task&page=1&size=1',
      'GET /v1/alert-policies?departmentId=2&scope=department&page=1&size=1',
    ])
    expect(wrapper.find('[data-testid="task-alerts-source"]').text()).toContain('the default of department Ops <i>team</i> applies')
    expect(wrapper.find('[data-testid="task-alerts-create"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="task-alerts-sent"]').exists()).toBe(false) // no record:view
  })

  it('checks the dialog before sending, then puts server field errors on their fields and other errors in the banner', async () => {
    const bodies: unknown[] = []
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(String(input), 'http://djs.test')
      if (init?.method === 'POST') {
        const body = JSON.parse(String(init.body)) as { webhookUrl?: string }
        bodies.push(body)
        const json = body.webhookUrl === 'http://10.0.0.1/x'
          ? { code: 4001, message: 'invalid', data: { fields: { webhookUrl: ['private address refused'] } } }
          : { code: 4009, message: 'task 9 already has an alert policy (id 1); edit that one', data: null }
        return new Response(JSON.stringify(json), { status: json.code === 4001 ? 400 : 409 })
      }
      const data = url.pathname === '/v1/departments' ? [] : page([])
      return new Response(JSON.stringify({ code: 0, message: 'success', data }))
    })
    signIn(['task:view', 'task:update'])
    let state!: ReturnType<typeof useAlertPolicies>
    await render(defineComponent({ setup: () => { state = useAlertPolicies(); return () => null } }))

    state.openCreate({ scope: 'department', taskId: 9 }) // not allowed: falls back to the task scope
    expect(state.form.scope).toBe('task')
    expect(await state.save()).toBe(false)
    expect(state.errors.webhookUrl).toBe('give a webhook URL or at least one e-mail address')
    expect(bodies).toEqual([])

    state.form.webhookUrl = 'http://10.0.0.1/x'
    expect(await state.save()).toBe(false)
    expect(state.errors.webhookUrl).toBe('private address refused')
    expect(state.banner.value).toEqual([])
    state.form.webhookUrl = 'http://127.0.0.1:9/hook'
    await flushPromises()
    expect(state.errors.webhookUrl).toBeUndefined() // gone once the value changes
    expect(await state.save()).toBe(false)
    expect(state.banner.value).toEqual(['task 9 already has an alert policy (id 1); edit that one'])
    expect(state.dialogOpen.value).toBe(true)
    expect(bodies[1]).toMatchObject({ taskId: 9, webhookUrl: 'http://127.0.0.1:9/hook', onFailure: true })
  })
})
