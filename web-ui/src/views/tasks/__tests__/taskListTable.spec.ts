/**
 * The task list's table without el-table (issue 20, defect 12): what el-table did for the list still works —
 * server-side sort from the header (events only: the list puts the sort in the URL), selection by task id that
 * survives a reload, permission-aware row actions as real buttons, links that navigate through the router.
 */
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import type { TaskRow } from '@/api/tasks'
import type { UserInfo } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import { routes } from '@/router'
import { useAuthStore } from '@/stores/auth'
import TaskListTable from '../TaskListTable.vue'

enableAutoUnmount(afterEach)

const row = (id: number, name: string, extra: Partial<TaskRow> = {}) => ({
  id, name, departmentName: 'Ops', taskType: 'HTTP', cron: '0 */5 * * * *', timezone: 'UTC', status: 1,
  nextExecuteTime: '2026-12-07T08:30:00Z', lastExecuteTime: null, health: null, ...extra,
}) as unknown as TaskRow

async function mountTable(permissions: string[], rows: TaskRow[]) {
  const pinia = createPinia()
  setActivePinia(pinia)
  useAuthStore().user = { id: 1, username: 'u', departmentId: 2, permissions } as unknown as UserInfo
  const router = createRouter({ history: createMemoryHistory(), routes })
  await router.push('/tasks')
  const actions = { toggle: vi.fn(), trigger: vi.fn(), kill: vi.fn(), remove: vi.fn() }
  const wrapper = mount(TaskListTable, {
    props: { rows, sort: { prop: 'name', order: 'ascending' as const }, actions },
    global: { plugins: [pinia, i18n, router] },
    attachTo: document.body,
  })
  return { wrapper, actions, router }
}

describe('TaskListTable', () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  it('asks for the sort from the header: the caret sets an order, the header cycles, the current order clears', async () => {
    const { wrapper } = await mountTable(['task:view'], [row(1, 'a'), row(2, 'b')])
    const name = wrapper.findAll('thead th').find((th) => th.text().startsWith('Name'))!
    expect(name.attributes('aria-sort')).toBe('ascending')
    expect(name.classes()).toContain('ascending')
    await name.find('.sort-caret.descending').trigger('click')
    await name.find('.sort-caret.ascending').trigger('click') // already ascending: back to the default order
    await name.trigger('click') // cycles ascending -> descending
    const status = wrapper.findAll('thead th').find((th) => th.text().startsWith('Status'))!
    await status.find('button.caret-wrapper').trigger('click') // the keyboard's way: a real button
    expect(status.find('button.caret-wrapper').attributes('aria-label')).toBe('Sort by Status')
    await wrapper.findAll('thead th').find((th) => th.text().startsWith('Department'))!.trigger('click') // not sortable
    expect(wrapper.emitted('sort-change')).toEqual([
      [{ prop: 'name', order: 'descending' }],
      [{ prop: null, order: null }],
      [{ prop: 'name', order: 'descending' }],
      [{ prop: 'status', order: 'ascending' }],
    ])
  })

  it('selects rows and the whole page, keeps the selection by id across a reload', async () => {
    const { wrapper } = await mountTable(['task:view'], [row(1, 'a'), row(2, 'b'), row(3, 'c')])
    const boxes = wrapper.findAll('.el-table__body .el-checkbox input')
    expect(boxes.map((box) => box.attributes('aria-label'))).toEqual(['Select a', 'Select b', 'Select c'])
    await boxes[1]!.setValue(true)
    const all = wrapper.find<HTMLInputElement>('[data-testid="task-select-all"]')
    expect(all.element.indeterminate).toBe(true)
    await all.setValue(true)
    expect(wrapper.findAll('.el-table__body .el-checkbox__input.is-checked')).toHaveLength(3)
    const fresh = [row(2, 'b', { status: 0 }), row(4, 'd')]
    await wrapper.setProps({ rows: fresh })
    await flushPromises()
    const emitted = wrapper.emitted<[TaskRow[]]>('selection-change')!.map(([rows]) => rows.map((r) => r.id))
    expect(emitted).toEqual([[2], [1, 2, 3], [2]])
    expect(wrapper.emitted<[TaskRow[]]>('selection-change')!.at(-1)![0][0]).toBe(fresh[0]) // the reloaded row
    expect(all.element.indeterminate).toBe(true)
    await all.setValue(true) // some selected: all of the page
    expect(wrapper.emitted<[TaskRow[]]>('selection-change')!.at(-1)![0].map((r) => r.id)).toEqual([2, 4])
    await all.setValue(false)
    expect(wrapper.emitted<[TaskRow[]]>('selection-change')!.at(-1)![0]).toEqual([])
  })

  it('shows the actions the user may use, as buttons and links, and SHELL rows need task:shell', async () => {
    const { wrapper, actions, router } = await mountTable(
      ['task:view', 'task:update', 'task:execute', 'task:create'],
      [row(1, 'web'), row(2, 'script', { taskType: 'SHELL' })],
    )
    const web = wrapper.find('[data-testid="task-actions-web"]')
    expect(web.findAll('[data-testid]').map((el) => el.attributes('data-testid'))).toEqual(
      ['task-edit', 'task-toggle', 'task-trigger', 'task-kill', 'task-clone'])
    expect(web.find('[data-testid="task-toggle"]').element.tagName).toBe('BUTTON')
    expect(web.find('[data-testid="task-toggle"]').attributes('type')).toBe('button')
    const script = wrapper.find('[data-testid="task-actions-script"]')
    expect(script.findAll('[data-testid]').map((el) => el.attributes('data-testid'))).toEqual(['task-toggle', 'task-kill'])

    await web.find('[data-testid="task-trigger"]').trigger('click')
    expect(actions.trigger).toHaveBeenCalledWith(expect.objectContaining({ id: 1 }))
    expect(web.find('[data-testid="task-edit"]').attributes('href')).toBe('/tasks/1/edit')
    const push = vi.spyOn(router, 'push')
    await wrapper.find('[data-testid="task-link-web"]').trigger('click', { button: 0 })
    expect(push).toHaveBeenCalledWith('/tasks/1')
    await wrapper.find('[data-testid="task-link-web"]').trigger('click', { button: 0, ctrlKey: true }) // a new tab: the browser's
    expect(push).toHaveBeenCalledTimes(1)
  })
})
