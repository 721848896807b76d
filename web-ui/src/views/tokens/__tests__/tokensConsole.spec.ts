import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import type { ApiToken } from '@/api/tokens'
import type { UserInfo } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import { routes } from '@/router'
import { useAuthStore } from '@/stores/auth'
import ApiTokensView from '../ApiTokensView.vue'

const SECRET = 'djs_pat_q2Xr9TabcdefghijklmnopqrstuvwxyzABCDEFG'

function token(overrides: Partial<ApiToken> = {}): ApiToken {
  return {
    id: 3, userId: 1, name: 'ci <b>deploy</b>', prefix: 'djs_pat_q2Xr9T', state: 'active',
    createTime: '2026-03-01T10:00:00Z', createdById: 1, createdByName: 'u', expiresAt: null,
    lastUsedAt: '2026-03-02T10:00:00Z', revokedAt: null, ...overrides,
  }
}

const page = (list: unknown[]) => ({ list, total: list.length, page: 1, size: 10 })

/** The /v1 API of the page; records "METHOD /path?query" and the bodies sent. */
function serve(tokens: ApiToken[]): { calls: string[]; bodies: unknown[] } {
  const calls: string[] = []
  const bodies: unknown[] = []
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://djs.test')
    const method = init?.method ?? 'GET'
    calls.push(`${method} ${url.pathname}${url.search}`)
    let data: unknown = page(tokens)
    if (method === 'POST') {
      bodies.push(JSON.parse(String(init?.body)))
      const made = token({ id: 4, name: 'sidecar', expiresAt: '2026-06-01T10:00:00Z', lastUsedAt: null })
      tokens.unshift(made)
      data = { ...made, token: SECRET }
    } else if (method === 'DELETE') {
      const id = Number(url.pathname.split('/').pop())
      const index = tokens.findIndex((t) => t.id === id)
      tokens[index] = { ...tokens[index]!, state: 'revoked', revokedAt: '2026-03-03T10:00:00Z' }
      data = tokens[index]
    } else if (/^\/v1\/users\/\d+$/.test(url.pathname)) {
      data = { id: 7, username: 'svc-orders' }
    }
    return new Response(JSON.stringify({ code: 0, message: 'success', data }), { headers: { 'Content-Type': 'application/json' } })
  })
  return { calls, bodies }
}

let pinia: Pinia
let router: Router
enableAutoUnmount(afterEach)

async function render(path: string) {
  useAuthStore().user = { id: 1, username: 'u', permissions: ['user:manage'] } as unknown as UserInfo
  await router.push(path)
  const wrapper = mount(ApiTokensView, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

function inBody<T extends Element = HTMLElement>(selector: string): T | null {
  return document.body.querySelector<T>(selector)
}

async function click(selector: string): Promise<void> {
  const element = inBody(selector)
  expect(element, selector).not.toBeNull()
  element!.click()
  await flushPromises()
}

describe('API tokens page', () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  beforeEach(() => {
    localStorage.setItem('djs.tokens', JSON.stringify({ token: 'A1', refreshToken: 'R1' }))
    pinia = createPinia()
    setActivePinia(pinia)
    router = createRouter({ history: createMemoryHistory(), routes })
    document.body.innerHTML = ''
  })

  it('is open to every user for their own tokens, and to user:manage holders for another user', () => {
    const byName = Object.fromEntries(routes.flatMap((r) => r.children ?? []).map((r) => [r.name, r.meta?.permission]))
    expect(byName['api-tokens']).toBeUndefined()
    expect(byName['user-tokens']).toBe('user:manage')
  })

  it('lists your own tokens as text, never a secret, and offers no revoke for a revoked one', async () => {
    const { calls } = serve([token(), token({ id: 2, name: 'old', state: 'revoked', revokedAt: '2026-02-01T00:00:00Z' })])
    const wrapper = await render('/tokens')
    expect(calls).toEqual(['GET /v1/users/1/tokens?page=1&size=10'])
    expect(wrapper.find('[data-testid="token-owner"]').text()).toContain('act as you')
    expect(wrapper.find('[data-testid="token-back"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="token-row-ci <b>deploy</b>"]').text()).toBe('ci <b>deploy</b>')
    expect(wrapper.find('b').exists()).toBe(false)
    expect(wrapper.text()).toContain('djs_pat_q2Xr9T…')
    expect(wrapper.find('[data-testid="token-state-3"]').text()).toBe('Active')
    expect(wrapper.find('[data-testid="token-state-2"]').text()).toBe('Revoked')
    expect(wrapper.findAll('[data-testid="token-revoke"]')).toHaveLength(1)
  })

  it('creates a token, shows its secret once in a dialog with a copy button, and forgets it when closed', async () => {
    const { calls, bodies } = serve([token()])
    const wrapper = await render('/tokens')
    await click('[data-testid="token-create"]')
    const name = inBody<HTMLInputElement>('[data-testid="token-name"]')!
    name.value = '  sidecar '
    name.dispatchEvent(new Event('input'))
    await click('[data-testid="token-save"]')

    expect(bodies).toEqual([{ name: 'sidecar', expiresInDays: 90 }])
    expect(calls.filter((c) => c.startsWith('GET'))).toHaveLength(2) // the list again, with the new token
    expect(inBody<HTMLInputElement>('[data-testid="token-secret"]')?.value).toBe(SECRET)
    expect(inBody('[data-testid="token-copy"]')).not.toBeNull()
    expect(inBody('[data-testid="token-secret-dialog"]')?.textContent).toContain('shown only this once')
    expect(wrapper.find('[data-testid="token-row-sidecar"]').exists()).toBe(true)

    await click('[data-testid="token-secret-close"]')
    // the secret is gone from the page: closing forgets it (the dialog's input is emptied, or removed)
    expect(inBody<HTMLInputElement>('[data-testid="token-secret"]')?.value ?? '').toBe('')
  })

  it('revokes a token after confirmation', async () => {
    const { calls } = serve([token()])
    const wrapper = await render('/tokens')
    await wrapper.find('[data-testid="token-revoke"]').trigger('click')
    await flushPromises()
    // The message box's code loads with the first question (utils/confirmBox.ts).
    await vi.waitFor(() => expect(document.querySelector('.djs-confirm .el-button--danger')).not.toBeNull())
    await click('.djs-confirm .el-button--danger')
    await flushPromises()
    expect(calls).toContain('DELETE /v1/users/1/tokens/3')
    expect(wrapper.find('[data-testid="token-state-3"]').text()).toBe('Revoked')
  })

  it("shows another user's tokens by name, with a way back to the users page", async () => {
    const { calls } = serve([token({ userId: 7, createdByName: 'u' })])
    const wrapper = await render('/users/7/tokens')
    // the owner's name and the list are asked for side by side
    expect([...calls].sort()).toEqual(['GET /v1/users/7', 'GET /v1/users/7/tokens?page=1&size=10'])
    expect(wrapper.find('[data-testid="token-owner"]').text()).toContain('API tokens of svc-orders')
    expect(wrapper.find('[data-testid="token-back"]').exists()).toBe(true)
  })
})
