/**
 * usePagedList (issue 20): a list's filters, page, size and sort live in the URL — a change writes it, Back and a
 * shared link show the same list, values the list cannot use fall back to the defaults — and a failed request
 * is an error state with Retry, not an empty list.
 */
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, onMounted } from 'vue'
import { RouterView, createMemoryHistory, createRouter, useRoute, type Router } from 'vue-router'
import type { Page } from '@/api/types'
import { SPINNER_DELAY_MS, filterCodecs, readListQuery, usePagedList, writeListQuery, type PageParams } from '../usePagedList'

interface Row {
  id: number
}

interface Filters {
  keyword: string
  departmentId: number | undefined
  status: 0 | 1 | undefined
}

const CODECS = {
  keyword: filterCodecs.text(),
  departmentId: filterCodecs.id(),
  status: filterCodecs.oneOf<0 | 1>([0, 1]),
}
const SORTS = ['name', 'createTime']
enableAutoUnmount(afterEach)
const OPTS = { sorts: SORTS, sizes: [10, 20, 50], size: 10 }

describe('list URL state', () => {
  it('reads and writes page, size, sort and filters, leaving defaults out', () => {
    const query = { keyword: 'nightly', departmentId: '3', status: '0', sort: '-createTime', page: '4', size: '50' }
    const state = readListQuery(query, CODECS, OPTS)
    expect(state).toEqual({ page: 4, size: 50, sort: '-createTime', filters: { keyword: 'nightly', departmentId: 3, status: 0 } })
    expect(writeListQuery(state, CODECS, 10)).toEqual(query)
    expect(writeListQuery(readListQuery({}, CODECS, OPTS), CODECS, 10)).toEqual({})
  })

  it('falls back to the defaults for what it cannot use', () => {
    const state = readListQuery({
      keyword: ['first', 'second'], departmentId: '-2', status: '7', sort: '-password', page: 'two', size: '1000',
    }, CODECS, OPTS)
    expect(state).toEqual({ page: 1, size: 10, sort: '', filters: { keyword: 'first', departmentId: undefined, status: undefined } })
    expect(readListQuery({ page: '0', size: '15', sort: 'name' }, CODECS, OPTS)).toMatchObject({ page: 1, size: 10, sort: 'name' })
    expect(filterCodecs.dateTime().parse('2026-03-01T08:00:00+08:00')).toBe('2026-03-01T08:00:00+08:00')
    expect(filterCodecs.dateTime().parse('yesterday')).toBeUndefined()
  })
})

// A page the way the console renders it: the layout keys pages by the full path, so a URL change mounts a new one.
function setup(keyed: boolean, fetch: (params: PageParams, filters: Filters) => Promise<Page<Row>>) {
  let state: ReturnType<typeof usePagedList<Row, Filters>> | undefined
  const ListPage = defineComponent({
    setup() {
      state = usePagedList<Row, Filters>({ filters: CODECS, sorts: SORTS, sizes: [10, 20, 50], fetch })
      return () => h('div', { 'data-testid': 'rows' }, state!.rows.value.map((r) => r.id).join(','))
    },
  })
  const Layout = defineComponent({
    setup() {
      const route = useRoute()
      return () => h(RouterView, null, {
        default: ({ Component }: { Component: unknown }) => (Component ? h(Component as never, keyed ? { key: route.fullPath } : {}) : null),
      })
    },
  })
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/list', name: 'list', component: ListPage },
      { path: '/other', name: 'other', component: { render: () => h('div') } },
    ],
  })
  return { router, Layout, current: () => state! }
}

function rowsFor(params: PageParams, filters: Filters): Page<Row> {
  const base = params.page * 100 + (filters.departmentId ?? 0)
  return { list: [{ id: base + 1 }, { id: base + 2 }], total: 95, page: params.page, size: params.size }
}

async function start(router: Router, Layout: ReturnType<typeof defineComponent>, path: string) {
  await router.push(path)
  const wrapper = mount(Layout, { global: { plugins: [router] } })
  await flushPromises()
  return wrapper
}

describe.each([
  ['keyed by the full path (a URL change mounts a new page)', true],
  ['kept mounted across URL changes', false],
])('usePagedList, page %s', (_label, keyed) => {
  let fetch: ReturnType<typeof vi.fn<(params: PageParams, filters: Filters) => Promise<Page<Row>>>>

  beforeEach(() => {
    fetch = vi.fn(async (params: PageParams, filters: Filters) => rowsFor(params, filters))
  })

  it('opens a shared link as it says, and puts each change in the URL with one request', async () => {
    const { router, Layout, current } = setup(keyed, fetch)
    const wrapper = await start(router, Layout, '/list?departmentId=3&sort=-name&page=2&size=20')
    expect(fetch).toHaveBeenCalledTimes(1)
    expect(fetch).toHaveBeenLastCalledWith({ page: 2, size: 20, sort: '-name' }, { keyword: '', departmentId: 3, status: undefined })
    expect(wrapper.find('[data-testid="rows"]').text()).toBe('204,205')

    current().filters.keyword = '  nightly '
    current().filters.status = 0
    await current().search()
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({ keyword: 'nightly', departmentId: '3', status: '0', sort: '-name', size: '20' })
    expect(fetch).toHaveBeenCalledTimes(2)
    expect(fetch).toHaveBeenLastCalledWith({ page: 1, size: 20, sort: '-name' }, { keyword: 'nightly', departmentId: 3, status: 0 })

    await current().setPage(3)
    await flushPromises()
    expect(router.currentRoute.value.query.page).toBe('3')
    expect(fetch).toHaveBeenCalledTimes(3)
    expect(current().page.value).toBe(3)
    expect(current().filters.keyword).toBe('nightly')
  })

  it('shows the same list again on Back', async () => {
    const { router, Layout, current } = setup(keyed, fetch)
    const wrapper = await start(router, Layout, '/list')
    await current().setSize(50)
    await flushPromises()
    await current().setPage(2)
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({ page: '2', size: '50' })
    await router.push('/other')
    await flushPromises()
    router.back()
    await vi.waitFor(() => expect(router.currentRoute.value.name).toBe('list'))
    await flushPromises()
    expect(current().page.value).toBe(2)
    expect(current().size.value).toBe(50)
    expect(fetch).toHaveBeenLastCalledWith({ page: 2, size: 50, sort: undefined }, expect.anything())
    expect(wrapper.find('[data-testid="rows"]').text()).toBe('201,202')
  })

  it('sorts on the server by the column the table reports, only by the fields it allows', async () => {
    const { router, Layout, current } = setup(keyed, fetch)
    await start(router, Layout, '/list?page=4')
    await current().onSortChange({ prop: 'createTime', order: 'descending' })
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({ sort: '-createTime' })
    expect(fetch).toHaveBeenLastCalledWith({ page: 1, size: 10, sort: '-createTime' }, expect.anything())
    expect(current().tableSort.value).toEqual({ prop: 'createTime', order: 'descending' })

    await current().onSortChange({ prop: 'createTime', order: null })
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({})
    expect(fetch).toHaveBeenLastCalledWith({ page: 1, size: 10, sort: undefined }, expect.anything())
    await current().onSortChange({ prop: 'secret', order: 'ascending' })
    await flushPromises()
    expect(router.currentRoute.value.query.sort).toBeUndefined()
  })

  it('shows why a request failed instead of an empty list, and Retry loads it', async () => {
    fetch.mockRejectedValueOnce(new Error('database unavailable, please retry'))
    const { router, Layout, current } = setup(keyed, fetch)
    const wrapper = await start(router, Layout, '/list?page=2')
    expect(current().error.value).toBe('database unavailable, please retry')
    expect(current().rows.value).toEqual([])
    await current().retry()
    await flushPromises()
    expect(current().error.value).toBeNull()
    expect(wrapper.find('[data-testid="rows"]').text()).toBe('201,202')
    expect(router.currentRoute.value.query).toEqual({ page: '2' })
  })

  it('moves to the last page when the one in the URL is past the end', async () => {
    fetch.mockImplementation(async (params) => (params.page > 10
      ? { list: [], total: 95, page: params.page, size: params.size }
      : rowsFor(params, { keyword: '', departmentId: undefined, status: undefined })))
    const { router, Layout, current } = setup(keyed, fetch)
    await start(router, Layout, '/list?page=40')
    await vi.waitFor(() => expect(router.currentRoute.value.query.page).toBe('10'))
    await flushPromises()
    expect(current().rows.value.map((r) => r.id)).toEqual([1001, 1002])
  })
})

describe('usePagedList while a page loads', () => {
  afterEach(() => vi.useRealTimers())

  it('asks for the first page while the page is set up, before it has mounted', async () => {
    const order: string[] = []
    const Page = defineComponent({
      setup() {
        onMounted(() => order.push('mounted')) // registered first: runs before any mount hook of the list's own
        const list = usePagedList<Row, Filters>({
          filters: CODECS,
          fetch: async (params, filters) => {
            order.push('fetch')
            return rowsFor(params, filters)
          },
        })
        return () => h('div', list.rows.value.map((r) => r.id).join(','))
      },
    })
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/list', component: Page }] })
    await router.push('/list')
    const wrapper = mount(defineComponent({ render: () => h(RouterView) }), { global: { plugins: [router] } })
    await flushPromises()
    expect(order).toEqual(['fetch', 'mounted'])
    expect(wrapper.text()).toBe('101,102')
  })

  it('masks the rows only once a load has taken longer than the spinner delay', async () => {
    vi.useFakeTimers()
    let answer: ((page: Page<Row>) => void) | undefined
    const fetch = vi.fn((params: PageParams, filters: Filters) => new Promise<Page<Row>>((resolve) => {
      answer = () => resolve(rowsFor(params, filters))
    }))
    const { router, Layout, current } = setup(false, fetch)
    await router.push('/list')
    mount(Layout, { global: { plugins: [router] } })
    await vi.advanceTimersByTimeAsync(SPINNER_DELAY_MS - 50)
    expect(current().loading.value).toBe(true)
    expect(current().spinner.value).toBe(false) // a quick answer never shows a mask
    await vi.advanceTimersByTimeAsync(100)
    expect(current().spinner.value).toBe(true) // a slow one does
    answer!({ list: [], total: 0, page: 1, size: 10 })
    await vi.advanceTimersByTimeAsync(0)
    expect(current().loading.value).toBe(false)
    expect(current().spinner.value).toBe(false)

    void current().load() // a reload answered at once: no mask at any point
    expect(current().spinner.value).toBe(false)
    answer!({ list: [], total: 0, page: 1, size: 10 })
    await vi.advanceTimersByTimeAsync(SPINNER_DELAY_MS * 2)
    expect(current().spinner.value).toBe(false)
  })
})
