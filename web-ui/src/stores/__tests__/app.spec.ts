import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { i18n } from '@/i18n'
import { THEME_STORAGE_KEY, applyTheme, detectTheme, useAppStore } from '../app'

describe('theme', () => {
  beforeEach(() => {
    localStorage.clear()
    document.documentElement.className = ''
    setActivePinia(createPinia())
  })

  it('uses the saved theme, else the system preference', () => {
    expect(detectTheme('dark', false)).toBe('dark')
    expect(detectTheme('light', true)).toBe('light')
    expect(detectTheme(null, true)).toBe('dark')
    expect(detectTheme('purple', false)).toBe('light')
  })

  it('switches Element Plus dark variables through html.dark', () => {
    applyTheme('dark')
    expect(document.documentElement.classList.contains('dark')).toBe(true)
    applyTheme('light')
    expect(document.documentElement.classList.contains('dark')).toBe(false)
  })

  it('toggling persists the choice', () => {
    const app = useAppStore()
    app.setTheme('light')
    app.toggleTheme()
    expect(app.theme).toBe('dark')
    expect(localStorage.getItem(THEME_STORAGE_KEY)).toBe('dark')
    expect(document.documentElement.classList.contains('dark')).toBe(true)
  })
})

describe('language', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
  })

  it('loads the chosen locale, translates with it and remembers it', async () => {
    const app = useAppStore()
    await app.changeLocale('zh-CN')
    expect(i18n.global.t('menu.tasks')).toBe('任务管理')
    expect(document.documentElement.lang).toBe('zh-CN')
    expect(localStorage.getItem('djs.locale')).toBe('zh-CN')
    await app.changeLocale('en')
    expect(i18n.global.t('menu.tasks')).toBe('Tasks')
  })
})
