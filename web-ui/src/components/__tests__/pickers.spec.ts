/**
 * Pickers whose dropdowns are rendered when they open, not when their page mounts (issue 20, first rows of the
 * tasks page): what they show before they are opened, and what choosing in them does.
 */
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Department } from '@/api/types'
import DepartmentSelect from '../DepartmentSelect.vue'
import ListPager from '../ListPager.vue'

enableAutoUnmount(afterEach)
afterEach(() => {
  document.body.innerHTML = ''
})

function department(id: number, name: string, children: Department[] = []): Department {
  return { id, name, description: null, parentId: null, status: 1, createTime: '', updateTime: '', children }
}

const TREE = [department(1, 'Head office', [department(2, 'Operations', [department(3, 'Night shift')])])]

describe('DepartmentSelect', () => {
  it('names the chosen department without rendering the tree, and renders the tree when opened', async () => {
    const wrapper = mount(DepartmentSelect, { props: { tree: TREE, modelValue: 3 }, attachTo: document.body })
    await flushPromises()
    const shown = wrapper.find('.el-select__placeholder')
    expect(shown.text()).toBe('Night shift')
    expect(shown.classes()).not.toContain('is-transparent') // the value, not a grey placeholder
    expect(document.querySelector('.el-tree')).toBeNull()

    await wrapper.find('.el-select__wrapper').trigger('click')
    await vi.waitFor(() => expect(document.querySelector('.el-tree')).not.toBeNull())
    const names = [...document.querySelectorAll('.el-tree .el-select-dropdown__item')].map((el) => el.textContent)
    expect(names).toEqual(['Head office', 'Operations', 'Night shift'])
    ;(document.querySelectorAll('.el-tree .el-select-dropdown__item')[1] as HTMLElement).click()
    await flushPromises()
    expect(wrapper.emitted('update:modelValue')?.at(-1)).toEqual([2])
  })
})

describe('ListPager', () => {
  const props = { page: 1, size: 20, total: 95, sizes: [10, 20, 50, 100], testid: 'pager' }

  it('shows the page size and total, and says which size was chosen', async () => {
    const wrapper = mount(ListPager, { props, attachTo: document.body })
    await flushPromises()
    expect(wrapper.find('.el-pagination__total').text()).toBe('Total 95')
    expect(wrapper.find('.el-pagination__sizes .el-select__selected-item:not(.is-hidden)').text()).toBe('20/page')
    expect(wrapper.findAll('.el-pager li').map((li) => li.text())).toEqual(['1', '2', '3', '4', '5'])
    expect(document.querySelector('.el-select-dropdown__item')).toBeNull()

    await wrapper.find('.el-pagination__sizes .el-select__wrapper').trigger('click')
    await vi.waitFor(() => expect(document.querySelectorAll('.el-select-dropdown__item')).toHaveLength(4))
    const options = [...document.querySelectorAll<HTMLElement>('.el-select-dropdown__item')]
    expect(options.map((el) => el.textContent)).toEqual(['10/page', '20/page', '50/page', '100/page'])
    options[3].click()
    await flushPromises()
    expect(wrapper.emitted('size')).toEqual([[100]])

    await wrapper.findAll('.el-pager li')[2].trigger('click')
    expect(wrapper.emitted('page')).toEqual([[3]])
  })
})
