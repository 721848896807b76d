import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { defineComponent, h, withDirectives } from 'vue'
import type { UserInfo } from '@/api/types'
import { useAuthStore } from '@/stores/auth'
import { hasPermission, vPermission } from '../permission'

describe('hasPermission', () => {
  const granted = ['task:view', 'task:execute']

  it('requires every code by default', () => {
    expect(hasPermission(granted, 'task:view')).toBe(true)
    expect(hasPermission(granted, ['task:view', 'task:execute'])).toBe(true)
    expect(hasPermission(granted, ['task:view', 'task:delete'])).toBe(false)
    expect(hasPermission(granted, 'user:manage')).toBe(false)
  })

  it('accepts any listed code in "any" mode', () => {
    expect(hasPermission(granted, ['user:manage', 'task:execute'], 'any')).toBe(true)
    expect(hasPermission(granted, ['user:manage', 'role:manage'], 'any')).toBe(false)
  })

  it('treats a missing requirement as satisfied and missing grants as none', () => {
    expect(hasPermission([], undefined)).toBe(true)
    expect(hasPermission(null, [])).toBe(true)
    expect(hasPermission(null, 'task:view')).toBe(false)
    expect(hasPermission(new Set(['a']), 'a')).toBe(true)
  })
})

describe('v-permission', () => {
  beforeEach(() => setActivePinia(createPinia()))

  function render(codes: string[]) {
    const auth = useAuthStore()
    auth.user = { id: 1, username: 'u', permissions: codes } as unknown as UserInfo
    const Buttons = defineComponent({
      render: () =>
        h('div', [
          withDirectives(h('button', { 'data-testid': 'delete' }, 'Delete'), [[vPermission, 'task:delete']]),
          withDirectives(h('button', { 'data-testid': 'run' }, 'Run'), [[vPermission, 'task:execute']]),
          withDirectives(h('button', { 'data-testid': 'admin' }, 'Admin'), [[vPermission, ['user:manage', 'role:manage'], '', { any: true }]]),
        ]),
    })
    return mount(Buttons)
  }

  it('removes the elements the user may not use and keeps the others', () => {
    const wrapper = render(['task:execute', 'role:manage'])
    expect(wrapper.find('[data-testid=delete]').exists()).toBe(false)
    expect(wrapper.find('[data-testid=run]').exists()).toBe(true)
    expect(wrapper.find('[data-testid=admin]').exists()).toBe(true)
  })

  it('removes everything for a user without permissions', () => {
    const wrapper = render([])
    expect(wrapper.findAll('button')).toHaveLength(0)
  })
})
