import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { RouterView, createMemoryHistory, createRouter, useRoute, type Router } from 'vue-router'
import { ApiError } from '@/api/http'
import type { RecordPage, TaskRecord, UserInfo } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import RecordDrawer from '../RecordDrawer.vue'
import RecordListView from '../RecordListView.vue'
import { PAGE_SIZE, formatTotal, isCursorRefused, listQuery, parseListQuery, rangeInMonth } from '../useRecords'

const { listRecords, getRecord, departmentTree, toastError, listTasks, getTask } = vi.hoisted(() => ({
  listTasks: vi.fn(),
  getTask: vi.fn(),
  listRecords: vi.fn(),
  getRecord: vi.fn(),
  departmentTree: vi.fn(),
  toastError: vi.fn(),
}))
vi.mock('@/api/records', () => ({ listRecords, getRecord, getRecordLog: vi.fn() }))
vi.mock('@/api/departments', () => ({ departmentTree }))
vi.mock('@/api/tasks', () => ({ listTasks, getTask }))
vi.mock('@/utils/feedback', () => ({
  toastError, toastSuccess: vi.fn(), confirmDanger: vi.fn(),
  errorText: (error: unknown) => (error instanceof Error ? error.message : String(error)),
}))

const NOW = new Date('2026-03-15T12:00:00Z')
const EMPTY = {
  taskId: undefined, departmentId: undefined, status: undefined, taskType: undefined, triggerType: undefined, start: undefined, end: undefined,
}

function record(id: number): TaskRecord {
  return {
    id, taskId: 7, taskName: `task <b>${id}</b>`, departmentId: 1, taskType: 'HTTP', triggerType: 'SCHEDULE',
    scheduledTime: '2026-03-02T10:00:00Z', startTime: '2026-03-02T10:00:00Z', endTime: '2026-03-02T10:00:01Z', status: 1,
    success: true, statusCode: 200, response: null, error: null, costTime: 12, retryTimes: 0, usedFallback: false,
    executor: 'node-1', instance: null, shard: 0, shardTotal: null, attempts: null, takenOverFrom: null, parentRecordId: null, parentYear: null, parentMonth: null,
    createTime: '2026-03-02T10:00:00Z', updateTime: '2026-03-02T10:00:01Z',
  }
}

/** Rows `from` down to `to` (newest first), as the API pages them (fewer than PAGE_SIZE: a table renders slowly here). */
function page(from: number, to: number, overrides: Partial<RecordPage> = {}): RecordPage {
  const list = []
  for (let id = from; id >= to; id -= 1) list.push(record(id))
  return { list, total: 12, page: 1, size: PAGE_SIZE, hasMore: true, nextCursor: `after-${to}`, ...overrides }
}

function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

describe('records URL state', () => {
  it('reads the month, the filters and the cursor', () => {
    const state = parseListQuery({
      year: '2026', month: '2', taskId: '7', departmentId: '3', status: '2', taskType: 'SHELL', triggerType: 'CHILD',
      cursor: 'abc:def',
    }, NOW)
    expect(state).toEqual({
      month: { year: 2026, month: 2 },
      filters: { taskId: 7, departmentId: 3, status: 2, taskType: 'SHELL', triggerType: 'CHILD' },
      cursor: 'abc:def',
    })
    expect(listQuery(state)).toEqual({
      year: '2026', month: '2', taskId: '7', departmentId: '3', status: '2', taskType: 'SHELL', triggerType: 'CHILD',
      cursor: 'abc:def',
    })
  })

  it('drops what is invalid; the month falls back to the current one', () => {
    expect(parseListQuery({}, NOW)).toEqual({ month: { year: 2026, month: 3 }, filters: EMPTY, cursor: null })
    const state = parseListQuery({
      year: '2026', month: '13', taskId: '0', departmentId: 'x', status: '9', taskType: 'FTP', triggerType: 'cron',
      cursor: '',
    }, NOW)
    expect(state).toEqual({ month: { year: 2026, month: 3 }, filters: EMPTY, cursor: null })
    expect(parseListQuery({ year: '2025', month: '12', status: '0', taskId: '1.5' }, NOW).filters).toEqual({ ...EMPTY, status: 0 })
    expect(parseListQuery({ cursor: 'x'.repeat(513) }, NOW).cursor).toBeNull()
    // Repeated keys: the first one counts.
    expect(parseListQuery({ taskId: ['4', '5'] }, NOW).filters.taskId).toBe(4)
  })

  it('keeps a time range only inside its month and in order', () => {
    const inside = { year: '2026', month: '2', start: '2026-02-10T00:00:00Z', end: '2026-02-11T06:30:00Z' }
    const state = parseListQuery(inside, NOW)
    expect(state.filters).toEqual({ ...EMPTY, start: '2026-02-10T00:00:00Z', end: '2026-02-11T06:30:00Z' })
    expect(listQuery(state)).toEqual(inside)
    expect(parseListQuery({ ...inside, end: '2026-03-05T00:00:00Z' }, NOW).filters).toEqual(EMPTY) // past the month
    expect(parseListQuery({ ...inside, end: '2026-02-09T00:00:00Z' }, NOW).filters).toEqual(EMPTY) // before its start
    expect(parseListQuery({ ...inside, start: 'monday' }, NOW).filters).toEqual(EMPTY)
    expect(parseListQuery({ year: '2026', month: '2', start: inside.start }, NOW).filters).toEqual(EMPTY) // half a range
    expect(rangeInMonth({ year: 2026, month: 2 }, inside.start, inside.end)).toEqual([inside.start, inside.end])
  })

  it('writes only what is set', () => {
    expect(listQuery({ month: { year: 2026, month: 3 }, filters: { ...EMPTY, status: 0 }, cursor: null }))
      .toEqual({ year: '2026', month: '3', status: '0' })
  })

  it('formats capped totals with a plus', () => {
    expect(formatTotal(1234, false)).toBe('1,234')
    expect(formatTotal(10000, true)).toBe('10,000+')
    expect(formatTotal(10000, true, 'zh-CN')).toBe('10,000+')
    expect(formatTotal(0, false)).toBe('0')
  })

  it('recognises a refused cursor', () => {
    expect(isCursorRefused(new ApiError(4001, 'cursor: belongs to another query', 400, { cursor: ['belongs to another query'] }))).toBe(true)
    expect(isCursorRefused(new ApiError(4001, 'page: use cursor', 400, { page: ['use cursor'] }))).toBe(false)
    expect(isCursorRefused(new ApiError(4003, 'forbidden'))).toBe(false)
    expect(isCursorRefused(new Error('boom'))).toBe(false)
  })
})

// Mounting Element Plus' table is slow on a loaded machine (the first mount also compiles it): a roomy timeout.
describe('records page', { timeout: 30_000 }, () => {
  let router: Router
  enableAutoUnmount(afterEach)

  beforeAll(async () => {
    await setLocale('en')
  })

  beforeEach(() => {
    listRecords.mockReset()
    getRecord.mockReset()
    departmentTree.mockReset().mockResolvedValue([])
    toastError.mockReset()
    router = createRouter({
      history: createMemoryHistory(),
      routes: [
        { path: '/records', name: 'records', component: RecordListView },
        { path: '/tasks', name: 'tasks', component: { render: () => h('div') } },
        { path: '/tasks/:id', name: 'task-detail', component: { render: () => h('div') } },
      ],
    })
    document.body.innerHTML = ''
  })

  /** Like MainLayout: the page is keyed by the full path, so every URL change creates a new instance. */
  const Layout = defineComponent({
    setup() {
      const route = useRoute()
      return () => h(RouterView, null, { default: ({ Component }: { Component: unknown }) => (Component ? h(Component as never, { key: route.fullPath }) : null) })
    },
  })

  async function open(url: string, keyed = true) {
    await router.push(url)
    const wrapper = mount(keyed ? Layout : RecordListView, { global: { plugins: [createPinia(), i18n, router] }, attachTo: document.body })
    await flushPromises()
    return wrapper
  }

  const rowIds = (wrapper: ReturnType<typeof mount>) =>
    wrapper.findAll('[data-testid="record-table"] .el-table__body tr td:first-child').map((td) => Number(td.text()))
  const lastQuery = () => listRecords.mock.lastCall?.[0]

  it('loads the newest rows, then appends the next ones with the cursor; the URL follows', async () => {
    listRecords.mockResolvedValueOnce(page(12, 9)).mockResolvedValueOnce(page(8, 5)).mockResolvedValueOnce(
      page(4, 1, { hasMore: false, nextCursor: null }),
    )
    const wrapper = await open('/records?year=2026&month=2&taskId=7&status=1')
    expect(lastQuery()).toEqual({
      year: 2026, month: 2, size: PAGE_SIZE, cursor: undefined, taskId: 7, departmentId: undefined, status: 1,
      taskType: undefined, triggerType: undefined,
    })
    expect(rowIds(wrapper)).toEqual([12, 11, 10, 9])
    expect(wrapper.find('[data-testid="record-total"]').text()).toBe('Total: 12 · 4 shown')
    expect(router.currentRoute.value.query).toEqual({ year: '2026', month: '2', taskId: '7', status: '1' })
    expect(wrapper.find('b').exists()).toBe(false) // task names are text

    await wrapper.find('[data-testid="record-load-more"]').trigger('click')
    await flushPromises()
    expect(lastQuery()).toMatchObject({ year: 2026, month: 2, taskId: 7, status: 1, cursor: 'after-9' })
    expect(rowIds(wrapper)).toEqual([12, 11, 10, 9, 8, 7, 6, 5])
    expect(router.currentRoute.value.query).toEqual({ year: '2026', month: '2', taskId: '7', status: '1', cursor: 'after-9' })

    await wrapper.find('[data-testid="record-load-more"]').trigger('click')
    await flushPromises()
    expect(rowIds(wrapper)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    expect(wrapper.find('[data-testid="record-total"]').text()).toBe('Total: 12 · 12 shown')
    expect(wrapper.find('[data-testid="record-load-more"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="record-end"]').exists()).toBe(true)
    expect(router.currentRoute.value.query.cursor).toBe('after-5')
    expect(wrapper.find('[data-testid="record-resumed"]').exists()).toBe(false)
    // Each URL change re-created the page, which took the rows over instead of asking again.
    expect(listRecords).toHaveBeenCalledTimes(3)
    expect(departmentTree).toHaveBeenCalledTimes(1)
  })

  it('the same, when the page stays mounted across its URL changes', async () => {
    listRecords.mockResolvedValueOnce(page(12, 9)).mockResolvedValueOnce(page(8, 5, { hasMore: false, nextCursor: null }))
    const wrapper = await open('/records?year=2026&month=2', false)
    await wrapper.find('[data-testid="record-load-more"]').trigger('click')
    await flushPromises()
    expect(rowIds(wrapper)).toEqual([12, 11, 10, 9, 8, 7, 6, 5])
    expect(router.currentRoute.value.query).toEqual({ year: '2026', month: '2', cursor: 'after-9' })
    expect(listRecords).toHaveBeenCalledTimes(2)
    // A navigation elsewhere and back loads afresh (nothing was left over for it).
    wrapper.unmount()
    listRecords.mockResolvedValueOnce(page(12, 9))
    await open('/records?year=2026&month=2&cursor=after-9')
    expect(listRecords).toHaveBeenCalledTimes(3)
    expect(lastQuery()).toMatchObject({ cursor: 'after-9' })
  })

  it('keeps the filters of the shown rows for "load more" while the inputs are being edited', async () => {
    listRecords.mockResolvedValueOnce(page(12, 9)).mockResolvedValueOnce(page(8, 5))
    const wrapper = await open('/records?year=2026&month=2&taskId=7')
    const input = wrapper.find('[data-testid="record-filter-task"] input')
    await input.setValue('8') // typed, not searched yet: the cursor still belongs to task 7
    await wrapper.find('[data-testid="record-load-more"]').trigger('click')
    await flushPromises()
    expect(lastQuery()).toMatchObject({ taskId: 7, cursor: 'after-9' })
  })

  it('a new search starts from the newest record, drops the cursor and any late answer', async () => {
    const late = deferred<RecordPage>()
    listRecords.mockResolvedValueOnce(page(12, 9)).mockReturnValueOnce(late.promise).mockResolvedValueOnce(
      page(3, 1, { total: 3, hasMore: false, nextCursor: null }),
    )
    const wrapper = await open('/records?year=2026&month=2')
    await wrapper.find('[data-testid="record-load-more"]').trigger('click')
    await wrapper.find('[data-testid="record-search"]').trigger('click')
    await flushPromises()
    late.resolve(page(8, 5))
    await flushPromises()
    expect(lastQuery()).toMatchObject({ cursor: undefined })
    expect(rowIds(wrapper)).toEqual([3, 2, 1])
    expect(router.currentRoute.value.query).toEqual({ year: '2026', month: '2' })
  })

  it('a reload with a cursor resumes there; "Show the newest" goes back to the top', async () => {
    listRecords.mockResolvedValueOnce(page(8, 5)).mockResolvedValueOnce(page(12, 9))
    const wrapper = await open('/records?year=2026&month=2&triggerType=MANUAL&cursor=after-9')
    expect(lastQuery()).toMatchObject({ triggerType: 'MANUAL', cursor: 'after-9' })
    expect(rowIds(wrapper)).toEqual([8, 7, 6, 5])
    expect(wrapper.find('[data-testid="record-resumed"]').exists()).toBe(true)
    expect(router.currentRoute.value.query.cursor).toBe('after-9')

    await wrapper.find('[data-testid="record-newest"]').trigger('click')
    await flushPromises()
    expect(lastQuery()).toMatchObject({ triggerType: 'MANUAL', cursor: undefined })
    expect(rowIds(wrapper)).toEqual([12, 11, 10, 9])
    expect(wrapper.find('[data-testid="record-resumed"]').exists()).toBe(false)
    expect(router.currentRoute.value.query).toEqual({ year: '2026', month: '2', triggerType: 'MANUAL' })
  })

  it('a cursor the API refuses (another user, other filters) starts from the newest record and says so', async () => {
    listRecords
      .mockRejectedValueOnce(new ApiError(4001, 'cursor: belongs to another query', 400, { cursor: ['belongs to another query'] }))
      .mockResolvedValueOnce(page(12, 9))
    const wrapper = await open('/records?year=2026&month=2&cursor=someone-elses')
    expect(listRecords).toHaveBeenCalledTimes(2)
    expect(lastQuery()).toMatchObject({ cursor: undefined })
    expect(toastError).not.toHaveBeenCalled()
    expect(wrapper.find('[data-testid="record-cursor-refused"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="record-resumed"]').exists()).toBe(false)
    expect(router.currentRoute.value.query).toEqual({ year: '2026', month: '2' })
  })

  it('other errors are shown and leave the URL alone', async () => {
    listRecords.mockRejectedValueOnce(new ApiError(4003, 'forbidden'))
    const wrapper = await open('/records?year=2026&month=2&cursor=c1')
    expect(listRecords).toHaveBeenCalledTimes(1)
    // In the list's error state with Retry (issue 20, defect 8), not a toast over an empty "Total: 0" list.
    expect(wrapper.find('[data-testid="list-error"]').text()).toContain('forbidden')
    expect(wrapper.find('[data-testid="record-total"]').exists()).toBe(false)
    expect(toastError).not.toHaveBeenCalled()
    expect(router.currentRoute.value.query).toEqual({ year: '2026', month: '2', cursor: 'c1' })
  })

  it('shows a capped total as "10,000+" and a pruned month with a notice', async () => {
    listRecords.mockResolvedValueOnce(page(12, 9, { total: 10000, totalCapped: true }))
    let wrapper = await open('/records?year=2026&month=2')
    expect(wrapper.find('[data-testid="record-total"]').text()).toContain('Total: 10,000+')
    expect(wrapper.find('[data-testid="record-raw-pruned"]').exists()).toBe(false)
    wrapper.unmount()

    listRecords.mockResolvedValueOnce({ list: [], total: 0, page: 1, size: PAGE_SIZE, hasMore: false, nextCursor: null, rawPruned: true })
    wrapper = await open('/records?year=2024&month=1')
    expect(wrapper.find('[data-testid="record-raw-pruned"]').text()).toContain('The records of 2024-01 were deleted by retention')
    expect(wrapper.find('[data-testid="record-total"]').text()).toBe('Total: 0 · 0 shown')
    expect(wrapper.find('[data-testid="record-load-more"]').exists()).toBe(false)
  })

  it.each([true, false])('follows a navigation to the page with another query (keyed by full path: %s)', async (keyed) => {
    listRecords.mockResolvedValueOnce(page(12, 9)).mockResolvedValueOnce(page(3, 1, { hasMore: false, nextCursor: null }))
    const wrapper = await open('/records?year=2026&month=2&taskId=7', keyed)
    await router.push('/records?year=2026&month=1&status=2')
    await flushPromises()
    expect(lastQuery()).toMatchObject({ year: 2026, month: 1, status: 2, taskId: undefined, cursor: undefined })
    expect(rowIds(wrapper)).toEqual([3, 2, 1])
    expect((wrapper.find('[data-testid="record-filter-task"] input').element as HTMLInputElement).value).toBe('')
    expect(listRecords).toHaveBeenCalledTimes(2)
  })

  it('with task:view: picks the task by name, links each task name to its task, and asks for the range of the URL', async () => {
    listRecords.mockResolvedValue(page(12, 11, { hasMore: false, nextCursor: null }))
    listTasks.mockResolvedValue({ list: [{ id: 7, name: 'nightly-report', departmentName: 'Ops' }], total: 1, page: 1, size: 20 })
    const pinia = createPinia()
    setActivePinia(pinia)
    useAuthStore().user = { id: 1, username: 'u', departmentId: 1, permissions: ['record:view', 'task:view'] } as unknown as UserInfo
    await router.push('/records?year=2026&month=2&taskId=7&start=2026-02-10T00:00:00Z&end=2026-02-11T00:00:00Z')
    const wrapper = mount(RecordListView, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
    await flushPromises()
    expect(lastQuery()).toMatchObject({ year: 2026, month: 2, taskId: 7, start: '2026-02-10T00:00:00Z', end: '2026-02-11T00:00:00Z' })
    // the picker searches tasks by name and shows the chosen one by name, not as a number
    expect(listTasks).toHaveBeenCalledWith({ keyword: undefined, page: 1, size: 20 })
    expect(wrapper.find('[data-testid="record-filter-task"]').text()).toContain('nightly-report')
    const links = wrapper.findAll('[data-testid="record-task-link"]')
    expect(links).toHaveLength(2)
    expect(links[0]?.attributes('href')).toBe('/tasks/7')
    expect(links[0]?.text()).toBe('task <b>12</b>')
  })

  it('opens the record of an alert link, keeps recordId while the drawer is open and drops it on close', async () => {
    listRecords.mockResolvedValue(page(12, 9))
    getRecord.mockResolvedValue(record(99))
    const wrapper = await open('/records?year=2026&month=2&recordId=99')
    expect(getRecord).toHaveBeenCalledWith(99, { year: 2026, month: 2 })
    const lists = () => listRecords.mock.calls.filter(([q]) => q.parentRecordId === undefined) // not the drawer's child runs
    expect(lists()).toHaveLength(1)
    expect(lists()[0]?.[0]).toMatchObject({ year: 2026, month: 2 })
    expect(router.currentRoute.value.query).toEqual({ year: '2026', month: '2', recordId: '99' })
    expect(document.body.querySelector('[data-testid="record-drawer"]')).not.toBeNull()
    // Element Plus reports the close after its leave transition, which does not run here.
    wrapper.findComponent(RecordDrawer).vm.$emit('update:modelValue', false)
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({ year: '2026', month: '2' })
    expect(lists()).toHaveLength(1) // no reload
  })
})
