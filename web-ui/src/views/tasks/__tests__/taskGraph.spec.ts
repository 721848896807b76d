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

  it('asks the task list for the parents in one request (childOf), and says when there are more', async () => {
    localStorage.setItem('djs.tokens', JSON.stringify({ token: 'A1', refreshToken: 'R1' }))
    const asked: string[] = []
    let total = 2
    vi.stubGlobal('fetch', async (input: RequestInfo | URL) => {
      const url = new URL(String(input), 'http://djs.test')
      asked.push(url.search)
      const list = [{ id: 120, name: 't120', childTaskIds: [5] }, { id: 3, name: 't3', childTaskIds: [5, 9] }]
      return new Response(JSON.stringify({ code: 0, message: 'success', data: { list, total } }), {
        status: 200, headers: { 'Content-Type': 'application/json' },
      })
    })
    expect(await findParentTasks(5)).toEqual({ parents: [{ id: 120, name: 't120' }, { id: 3, name: 't3' }], partial: false })
    expect(asked).toHaveLength(1)
    expect(new URLSearchParams(asked[0]).get('childOf')).toBe('5')
    total = 140
    expect((await findParentTasks(5)).partial).toBe(true)
  })
})
