import { describe, expect, it, vi } from 'vitest'
import { createI18n } from 'vue-i18n'
import en from '../locales/en'
import zh from '../locales/zh-CN'
import { detectLocale } from '../index'

type Tree = { [key: string]: string | Tree }

function leaves(tree: Tree, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (typeof value === 'string') out[path] = value
    else Object.assign(out, leaves(value, path))
  }
  return out
}

const enLeaves = leaves(en.messages as unknown as Tree)
const zhLeaves = leaves(zh.messages as unknown as Tree)

describe('locales', () => {
  it('English and Chinese have exactly the same keys', () => {
    expect(Object.keys(zhLeaves).sort()).toEqual(Object.keys(enLeaves).sort())
  })

  it('use the same placeholders in both languages', () => {
    const names = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
    for (const key of Object.keys(enLeaves)) expect([key, names(zhLeaves[key] ?? '')]).toEqual([key, names(enLeaves[key] ?? '')])
  })

  it('every message compiles and renders (no stray @ | { } syntax)', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const i18n = createI18n({ legacy: false, locale: 'en', messages: { en: en.messages, 'zh-CN': zh.messages } })
    const params = { n: 3, name: 'nightly', id: 7, zone: 'UTC', user: 'admin', time: '2026-05-01 08:00:00', reason: 'upgrade' }
    for (const locale of ['en', 'zh-CN'] as const) {
      i18n.global.locale.value = locale
      for (const key of Object.keys(enLeaves)) {
        const text = i18n.global.t(key, params)
        expect(text, `${locale}:${key}`).not.toBe(key)
        expect(text, `${locale}:${key}`).not.toMatch(/[{}]/)
      }
    }
    expect(i18n.global.t('cron.helpMacros')).toContain('@yearly')
    expect(warn).not.toHaveBeenCalled()
    expect(error).not.toHaveBeenCalled()
  })

  it('Chinese really is Chinese', () => {
    expect(zhLeaves['menu.tasks']).toBe('任务管理')
    expect(zhLeaves['login.submit']).toBe('登录')
  })
})

describe('detectLocale', () => {
  it('prefers the saved choice', () => {
    expect(detectLocale('zh-CN', ['en-US'])).toBe('zh-CN')
    expect(detectLocale('en', ['zh-CN'])).toBe('en')
  })

  it('falls back to the browser languages, then English', () => {
    expect(detectLocale(null, ['zh-TW', 'en'])).toBe('zh-CN')
    expect(detectLocale(null, ['de-DE', 'en-GB'])).toBe('en')
    expect(detectLocale('fr', ['fr-FR'])).toBe('en')
    expect(detectLocale(undefined, [])).toBe('en')
  })
})
