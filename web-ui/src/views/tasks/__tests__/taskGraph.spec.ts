/**
 * Dependencies at a glance (issue 20): the task page draws its parents and children, each a link to its task;
 * the parents come from the task list (no API names them), read in pages of 100.
 */
import { mount } from '@vue/test-utils'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { i18n, setLocale } from '@/i18n'
import TaskGraph from '../TaskGraph.vue'
import { findParentTasks } from '../useTaskDetail'

const router = createRouter({
  history: createMemoryHistory('/v1/web/'),
  routes: [
    { path: '/', component: { template: '<div />' } },
    { path: '/tasks/:id', name: 'task-detail', component: { template: '<div />' } },
  ],
})

describe('task graph', () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  it('links parents and children to their tasks, in order', () => {
    const wrapper = mount(TaskGraph, {
      props: { task: { id: 5, name: 'load' }, parents: [{ id: 2, name: 'extract' }], children: [{ id: 7, name: 'report' }, { id: 8, name: null }] },
      global: { plugins: [i18n, router] },
    })
    const links = (side: string) => wrapper.findAll(`[data-testid="task-graph-${side}"] a`).map((a) => [a.text(), a.attributes('href')])
    expect(links('parents')).toEqual([['extract', '/v1/web/tasks/2']])
    expect(links('children')).toEqual([['1. report', '/v1/web/tasks/7'], ['2. #8', '/v1/web/tasks/8']])
    expect(wrapper.find('[data-testid="task-graph-self"]').text()).toBe('load')
    expect(wrapper.findAll('path')).toHaveLength(3)
  })

  it('says so when there is no parent', () => {
    const wrapper = mount(TaskGraph, { props: { task: { id: 5, name: 'load' }, parents: [], children: [] }, global: { plugins: [i18n, router] } })
    expect(wrapper.find('[data-testid="task-graph-parents"]').text()).toBe('No parent task')
    expect(wrapper.find('[data-testid="task-graph-children"]').text()).toBe('No child task')
  })

  it('finds the parents in the task list, page by page', async () => {
    localStorage.setItem('djs.tokens', JSON.stringify({ token: 'A1', refreshToken: 'R1' }))
    const pages: string[] = []
    vi.stubGlobal('fetch', async (input: RequestInfo | URL) => {
      const url = new URL(String(input), 'http://djs.test')
      pages.push(url.searchParams.get('page') ?? '')
      const page = Number(url.searchParams.get('page'))
      const list = Array.from({ length: page === 1 ? 100 : 30 }, (_, i) => {
        const id = (page - 1) * 100 + i + 1
        return { id, name: `t${id}`, childTaskIds: id === 3 || id === 120 ? [5] : [] }
      })
      return new Response(JSON.stringify({ code: 0, message: 'success', data: { list, total: 130 } }), {
        status: 200, headers: { 'Content-Type': 'application/json' },
      })
    })
    expect(await findParentTasks(5)).toEqual({ parents: [{ id: 3, name: 't3' }, { id: 120, name: 't120' }], partial: false })
    expect(pages).toEqual(['1', '2'])
  })
})
