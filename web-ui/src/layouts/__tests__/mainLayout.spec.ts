/**
 * The layout keys a page by its path (a query change — page, sort, filters written by usePagedList — keeps it
 * mounted), and on a phone-width screen the menu is a drawer the header's button opens (issue 20 defect 9).
 */
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, onMounted } from 'vue'
import { RouterView, createMemoryHistory, createRouter, useRoute, type Router } from 'vue-router'
import type { UserInfo } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import MainLayout from '../MainLayout.vue'

const mounted: string[] = []
const Page = defineComponent({
  setup() {
    const route = useRoute()
    onMounted(() => mounted.push(route.fullPath))
    return () => h('div', { 'data-testid': 'page' }, String(route.name))
  },
})

let router: Router
enableAutoUnmount(afterEach)

function stubMatchMedia(narrow: boolean): void {
  vi.stubGlobal('matchMedia', () => ({ matches: narrow, addEventListener: () => undefined, removeEventListener: () => undefined }))
}

async function render() {
  const pinia = createPinia()
  setActivePinia(pinia)
  useAuthStore().user = { id: 1, username: 'u', departmentId: 2, permissions: ['task:view'] } as unknown as UserInfo
  router = createRouter({
    history: createMemoryHistory(),
    routes: [{
      path: '/',
      component: MainLayout,
      children: [
        { path: 'dashboard', name: 'dashboard', component: Page },
        { path: 'tasks', name: 'tasks', component: Page },
      ],
    }],
  })
  await router.push('/tasks')
  const wrapper = mount(defineComponent({ render: () => h(RouterView) }), {
    global: { plugins: [pinia, i18n, router] },
    attachTo: document.body,
  })
  await flushPromises()
  return wrapper
}

describe('MainLayout', () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  beforeEach(() => {
    mounted.length = 0
    document.body.innerHTML = ''
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ code: 0, message: 'success', data: { shell: true } }), {
      status: 200, headers: { 'Content-Type': 'application/json' },
    }))
  })

  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('keeps a page mounted while only its query changes, and mounts the next page', async () => {
    stubMatchMedia(false)
    await render()
    expect(mounted).toEqual(['/tasks'])
    await router.replace('/tasks?page=2&sort=-name')
    await flushPromises()
    expect(mounted).toEqual(['/tasks'])
    await router.push('/dashboard')
    await flushPromises()
    expect(mounted).toEqual(['/tasks', '/dashboard'])
  })

  it('shows the sidebar on a wide screen', async () => {
    stubMatchMedia(false)
    const wrapper = await render()
    expect(wrapper.find('.aside [data-testid="nav-tasks"]').exists()).toBe(true)
    expect(document.querySelector('[data-testid="nav-drawer"]')).toBeNull()
  })

  it('puts the menu in a drawer on a phone, which a navigation closes', async () => {
    stubMatchMedia(true)
    const wrapper = await render()
    expect(wrapper.find('.aside').exists()).toBe(false)
    expect(document.querySelector('[data-testid="nav-tasks"]')).toBeNull()
    await wrapper.find('[data-testid="menu-toggle"]').trigger('click')
    await flushPromises()
    // The drawer's code loads on a phone-width screen only (NavDrawer.vue, an async component).
    await vi.waitFor(() => expect(document.querySelector('[data-testid="nav-drawer"] [data-testid="nav-tasks"]')).not.toBeNull())
    const drawer = document.querySelector<HTMLElement>('[data-testid="nav-drawer"]')!
    const overlay = drawer.closest<HTMLElement>('.el-overlay')!
    expect(overlay.style.display).not.toBe('none')
    await router.push('/dashboard')
    await flushPromises()
    await vi.waitFor(() => expect(overlay.style.display).toBe('none'))
  })
})
