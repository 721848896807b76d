import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { SchedulerState, UserInfo } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import MaintenanceBanner from '../MaintenanceBanner.vue'
import SchedulerSwitch from '../SchedulerSwitch.vue'

const RUNNING: SchedulerState = { paused: false, pausedAt: null, pausedBy: null, reason: '' }
const PAUSED: SchedulerState = {
  paused: true,
  pausedAt: '2026-05-01T08:00:00Z',
  pausedBy: { id: 1, username: 'ops.admin' },
  reason: 'database <b>upgrade</b>',
}

/** GET /v1/scheduler/state answers ``state`` (the components read the switch themselves). */
function serveState(state: SchedulerState): void {
  vi.stubGlobal('fetch', async () =>
    new Response(JSON.stringify({ code: 0, message: 'success', data: state }), {
      headers: { 'Content-Type': 'application/json' },
    }),
  )
}

let pinia: Pinia
enableAutoUnmount(afterEach) // stops the banner's refresh timer

function signIn(codes: string[]): void {
  useAuthStore().user = { id: 1, username: 'u', permissions: codes } as unknown as UserInfo
}

async function render(component: typeof MaintenanceBanner | typeof SchedulerSwitch) {
  const wrapper = mount(component, { global: { plugins: [pinia, i18n] } })
  await flushPromises()
  return wrapper
}

describe('maintenance in the console', () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  beforeEach(() => {
    localStorage.setItem('djs.tokens', JSON.stringify({ token: 'A1', refreshToken: 'R1' }))
    pinia = createPinia()
    setActivePinia(pinia)
  })

  it('shows every user a banner with who paused, since when and why, as plain text', async () => {
    serveState(PAUSED)
    signIn([])
    const banner = (await render(MaintenanceBanner)).find('[data-testid="maintenance-banner"]')
    expect(banner.exists()).toBe(true)
    expect(banner.text()).toContain('Scheduling is paused')
    expect(banner.text()).toContain('Paused by ops.admin')
    expect(banner.find('[data-testid="maintenance-reason"]').text()).toBe('Reason: database <b>upgrade</b>')
    expect(banner.find('b').exists()).toBe(false)
  })

  it('shows no banner while scheduling runs', async () => {
    serveState(RUNNING)
    signIn(['system:manage'])
    const wrapper = await render(MaintenanceBanner)
    expect(wrapper.find('[data-testid="maintenance-banner"]').exists()).toBe(false)
  })

  it('offers pause and resume only to holders of system:manage', async () => {
    serveState(RUNNING)
    signIn(['task:view', 'task:execute', 'record:view'])
    await render(MaintenanceBanner) // reads the switch for the page
    const hidden = await render(SchedulerSwitch)
    expect(hidden.find('button').exists()).toBe(false)

    signIn(['system:manage'])
    const control = await render(SchedulerSwitch)
    expect(control.find('[data-testid="scheduler-pause"]').exists()).toBe(true)
    expect(control.find('[data-testid="scheduler-resume"]').exists()).toBe(false)
  })

  it('offers resume while paused', async () => {
    serveState(PAUSED)
    signIn(['system:manage'])
    await render(MaintenanceBanner)
    const control = await render(SchedulerSwitch)
    expect(control.find('[data-testid="scheduler-resume"]').text()).toBe('Resume scheduling')
    expect(control.find('[data-testid="scheduler-pause"]').exists()).toBe(false)
  })
})
