/**
 * The task list answers "is it healthy?" (issue 20): last run, 7-day success rate and runs, a running indicator;
 * the selection drives bulk enable/disable/delete (one single-task call per row, failures listed per task),
 * Clone opens the create form of a copy, Export downloads the YAML the server writes, Import checks then applies.
 */
import { defineComponent, h } from 'vue'
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import type { Task, UserInfo } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import { routes } from '@/router'
import { useAuthStore } from '@/stores/auth'
import TaskListView from '../TaskListView.vue'
import { cloneForm, cloneName, cloneRoute, cloneSource, MAX_TASK_NAME } from '../taskBulk'
import { useTaskBulk } from '../useTaskBulk'

const BASE = {
  description: 'copy me', departmentId: 2, departmentName: 'Ops', taskType: 'HTTP', cron: '0 */5 * * * *',
  timezone: 'UTC', url: 'https://jobs.example/run', httpMethod: 'POST', headers: { 'X-Team': 'ops' }, body: '{}',
  fallbackUrl: null, grpcService: null, grpcMethod: null, grpcParams: null, fallbackGrpcService: null,
  fallbackGrpcMethod: null, shellCommand: null, shellArgs: null, shellWorkdir: null, shellEnv: null, timeout: 30,
  retryCount: 2, retryInterval: 5, concurrencyPolicy: 'forbid', misfirePolicy: 'skip', routeStrategy: 'round_robin',
  nextExecuteTime: '2026-12-07T08:30:00Z', lastExecuteTime: '2026-12-05T08:25:00Z', version: 1, creatorId: 1,
  childTaskIds: [4], createTime: '2026-12-01T00:00:00Z', updateTime: '2026-12-01T00:00:00Z',
}
const HEALTHY = {
  ...BASE, id: 3, name: 'healthy', status: 1,
  health: { runs: 40, successCount: 39, failCount: 1, successRate: 0.975, running: 2,
    lastRun: { id: 77, year: 2026, month: 12, status: 2, triggerType: 'SCHEDULE', scheduledTime: '2026-12-05T08:25:00Z',
      startTime: '2026-12-05T08:25:00Z', endTime: '2026-12-05T08:25:01Z', costTime: 12 } },
}
const QUIET = { ...BASE, id: 5, name: 'quiet', status: 0, lastExecuteTime: null,
  health: { runs: 0, successCount: 0, failCount: 0, successRate: null, running: 0, lastRun: null } }
const LOCKED = { ...BASE, id: 8, name: 'locked', status: 1, health: QUIET.health }

interface Served {
  calls: string[]
  /** Paths answering 4003. */
  forbidden: Set<string>
}

function serve(served: Served): Served {
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://djs.test')
    const method = init?.method ?? 'GET'
    const body = init?.body ? String(init.body) : ''
    served.calls.push(`${method} ${url.pathname}${url.search}${body ? ` ${body}` : ''}`)
    const reply = (status: number, payload: unknown) =>
      new Response(JSON.stringify(payload), { status, headers: { 'Content-Type': 'application/json' } })
    const ok = (data: unknown) => reply(200, { code: 0, message: 'success', data })
    if (served.forbidden.has(url.pathname)) return reply(403, { code: 4003, message: 'permission denied: requires task:shell', data: null })
    if (url.pathname === '/v1/features') return ok({ shell: true, timezone: 'UTC' })
    if (url.pathname === '/v1/tasks') return ok({ list: [HEALTHY, QUIET, LOCKED], total: 3, page: 1, size: 10 })
    if (url.pathname === '/v1/departments') return ok([{ id: 2, name: 'Ops', parentId: null, status: 1, children: [] }])
    if (url.pathname === '/v1/tasks/export') return ok({ document: 'tasks:\n- name: healthy\n', count: 1, filename: 'djs-tasks-x.yaml' })
    if (url.pathname === '/v1/tasks/import') {
      const dryRun = JSON.parse(body).dryRun as boolean
      const line = { index: 0, id: dryRun ? null : 12, name: 'new-one', departmentId: 2, departmentName: 'Ops', taskType: 'HTTP', changes: [] }
      return ok({ dryRun, prune: false, created: [line], updated: [], unchanged: [], pruned: [] })
    }
    return ok(null)
  })
  return served
}

let pinia: Pinia
let router: Router
enableAutoUnmount(afterEach)

const ALL = ['task:view', 'task:create', 'task:update', 'task:execute', 'task:delete', 'task:shell', 'record:view']

async function renderList() {
  useAuthStore().user = { id: 1, username: 'u', departmentId: 2, permissions: ALL } as unknown as UserInfo
  await router.push('/tasks')
  const wrapper = mount(TaskListView, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

/** A harness around the composable, confirming every question with `answer`. */
function bulkHarness(answer: boolean) {
  let api!: ReturnType<typeof useTaskBulk>
  const reload = vi.fn()
  const asked: string[] = []
  mount(defineComponent({
    setup() {
      api = useTaskBulk({ reload, confirm: async (message) => { asked.push(message); return answer } })
      return () => h('div')
    },
  }), { global: { plugins: [pinia, i18n, router] } })
  return { api: () => api, reload, asked }
}

describe('task list health and bulk actions', { timeout: 20_000 }, () => {
  let served: Served

  beforeAll(async () => {
    await setLocale('en')
  })

  beforeEach(async () => {
    localStorage.clear()
    localStorage.setItem('djs.tokens', JSON.stringify({ token: 'A1', refreshToken: 'R1' }))
    pinia = createPinia()
    setActivePinia(pinia)
    router = createRouter({ history: createMemoryHistory(), routes })
    document.body.innerHTML = ''
    served = serve({ calls: [], forbidden: new Set() })
  })

  // One mount for the view's parts: mounting the list takes seconds in happy-dom.
  it('shows health, selects rows, downloads their export and links Clone to a copy', async () => {
    const wrapper = await renderList()
    const week = wrapper.find('[data-testid="task-week-healthy"]').text()
    expect(week).toContain('97.5%')
    expect(week).toContain('40 runs')
    expect(wrapper.find('[data-testid="task-running-healthy"]').text()).toContain('Running 2')
    expect(wrapper.find('[data-testid="task-last-run-healthy"]').text()).toContain('Failed')
    expect(wrapper.find('[data-testid="task-last-run-healthy"]').text()).toContain('2026-12-05')
    expect(wrapper.find('[data-testid="task-running-quiet"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="task-week-quiet"]').text()).toContain('—')
    expect(wrapper.find('[data-testid="task-last-run-quiet"]').text()).toContain('No runs')

    // Clone: the create form of the task's type, told which task to copy
    const link = wrapper.find('[data-testid="task-actions-healthy"] [data-testid="task-clone"]').element.closest('a')
    expect(link?.getAttribute('href')).toBe('/tasks/new?type=HTTP&clone=3')
    expect(cloneSource(router.resolve(cloneRoute(HEALTHY as unknown as Task)).query)).toBe(3)
    expect(cloneSource({ clone: 'x' })).toBeNull()

    // selection -> the bulk bar -> export of the selected rows, saved as the server names it
    expect(wrapper.find('[data-testid="task-bulk-bar"]').exists()).toBe(false)
    const boxes = wrapper.findAll('.el-table__body .el-checkbox input')
    expect(boxes).toHaveLength(3)
    await boxes[0]!.setValue(true)
    await boxes[2]!.setValue(true)
    await flushPromises()
    expect(wrapper.find('[data-testid="task-bulk-count"]').text()).toBe('2 selected')
    const created: Blob[] = []
    const saved = { create: URL.createObjectURL, revoke: URL.revokeObjectURL }
    URL.createObjectURL = (blob: Blob) => { created.push(blob); return 'blob:djs' }
    URL.revokeObjectURL = () => undefined
    const clicks: { href: string; download: string }[] = []
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicks.push({ href: this.getAttribute('href') ?? '', download: this.download })
    })
    try {
      await wrapper.find('[data-testid="task-bulk-export"]').trigger('click')
      await flushPromises()
    } finally {
      click.mockRestore()
      URL.createObjectURL = saved.create
      URL.revokeObjectURL = saved.revoke
    }
    expect(served.calls).toContain('GET /v1/tasks/export?ids=3%2C8')
    expect(clicks).toEqual([{ href: 'blob:djs', download: 'djs-tasks-x.yaml' }])
    expect(await created[0]!.text()).toBe('tasks:\n- name: healthy\n')
  })

  it('prefills the copy with every field, the name plus " (copy)", disabled', () => {
    const form = cloneForm(HEALTHY as unknown as Task)
    expect(form).toMatchObject({ name: 'healthy (copy)', status: 0, cron: '0 */5 * * * *', url: 'https://jobs.example/run',
      httpMethod: 'POST', headers: [{ name: 'X-Team', value: 'ops' }], body: '{}', retryCount: 2,
      concurrencyPolicy: 'forbid', childTaskIds: [4], departmentId: 2 })
    const long = cloneName('x'.repeat(MAX_TASK_NAME))
    expect(Array.from(long)).toHaveLength(MAX_TASK_NAME)
    expect(long.endsWith(' (copy)')).toBe(true)
    expect(cloneName('备份', '（副本）')).toBe('备份（副本）')
  })

  it('disables the selection one call per task, skips those already disabled, lists the refused ones', async () => {
    served.forbidden.add('/v1/tasks/8/status')
    const { api, reload, asked } = bulkHarness(true)
    api().onSelectionChange([HEALTHY, QUIET, LOCKED] as unknown as Task[])
    const summary = await api().bulk('disable')
    expect(asked).toHaveLength(1)
    expect(asked[0]).toContain('3 task(s)')
    expect(served.calls.filter((call) => call.startsWith('PATCH')).sort()).toEqual([
      'PATCH /v1/tasks/3/status {"status":0}', 'PATCH /v1/tasks/8/status {"status":0}'])
    expect(summary?.done.map((task) => task.id)).toEqual([3])
    expect(summary?.skipped.map((task) => task.id)).toEqual([5])
    expect(summary?.failed).toEqual([{ task: LOCKED, code: 4003, message: 'permission denied: requires task:shell' }])
    expect(api().summary.value).toBe(summary) // shown until closed
    expect(reload).toHaveBeenCalledTimes(1)
  })

  it('deletes only after the confirmation', async () => {
    const refused = bulkHarness(false)
    refused.api().onSelectionChange([HEALTHY, QUIET] as unknown as Task[])
    expect(await refused.api().bulk('delete')).toBeNull()
    expect(served.calls.some((call) => call.startsWith('DELETE'))).toBe(false)

    const confirmed = bulkHarness(true)
    confirmed.api().onSelectionChange([HEALTHY, QUIET] as unknown as Task[])
    const summary = await confirmed.api().bulk('delete')
    expect(served.calls.filter((call) => call.startsWith('DELETE')).sort()).toEqual(['DELETE /v1/tasks/3', 'DELETE /v1/tasks/5'])
    expect(summary?.done).toHaveLength(2)
    expect(confirmed.api().summary.value).toBeNull() // nothing failed: a toast, no dialog
  })

  it('imports a file only after checking it', async () => {
    const { api, reload } = bulkHarness(true)
    api().openImport()
    await api().chooseFile(new File(['tasks: []\n'], 'tasks.yaml'))
    const checked = await api().runImport(true)
    expect(checked?.dryRun).toBe(true)
    expect(reload).not.toHaveBeenCalled()
    await api().runImport(false)
    expect(served.calls.filter((call) => call.startsWith('POST /v1/tasks/import'))).toEqual([
      'POST /v1/tasks/import {"document":"tasks: []\\n","dryRun":true}',
      'POST /v1/tasks/import {"document":"tasks: []\\n","dryRun":false}'])
    expect(api().importReport.value?.created[0]?.id).toBe(12)
    expect(reload).toHaveBeenCalledTimes(1)
  })
})
