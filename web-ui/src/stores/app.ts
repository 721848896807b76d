import { defineStore } from 'pinia'
import { ref } from 'vue'
import { LOCALE_STORAGE_KEY, detectLocale, setLocale, type Locale } from '@/i18n'

export type Theme = 'light' | 'dark'
export const THEME_STORAGE_KEY = 'djs.theme'

function storage(): Storage | null {
  try {
    return typeof window !== 'undefined' ? window.localStorage : null
  } catch {
    return null
  }
}

/** Saved theme, else the system preference. */
export function detectTheme(saved: string | null | undefined, prefersDark: boolean): Theme {
  if (saved === 'light' || saved === 'dark') return saved
  return prefersDark ? 'dark' : 'light'
}

/** Element Plus switches to its dark CSS variables when <html> has the class `dark`. */
export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  root.classList.toggle('dark', theme === 'dark')
  root.style.colorScheme = theme
}

/** UI preferences, persisted in localStorage: language and light/dark theme. */
export const useAppStore = defineStore('app', () => {
  const store = storage()
  const prefersDark = typeof window !== 'undefined' && window.matchMedia?.('(prefers-color-scheme: dark)').matches
  const theme = ref<Theme>(detectTheme(store?.getItem(THEME_STORAGE_KEY), Boolean(prefersDark)))
  const locale = ref<Locale>(
    detectLocale(store?.getItem(LOCALE_STORAGE_KEY), typeof navigator !== 'undefined' ? navigator.languages ?? [navigator.language] : []),
  )
  const asideCollapsed = ref(false)

  async function init(): Promise<void> {
    applyTheme(theme.value)
    await setLocale(locale.value)
  }

  function setTheme(next: Theme): void {
    theme.value = next
    store?.setItem(THEME_STORAGE_KEY, next)
    applyTheme(next)
  }

  function toggleTheme(): void {
    setTheme(theme.value === 'dark' ? 'light' : 'dark')
  }

  async function changeLocale(next: Locale): Promise<void> {
    await setLocale(next)
    locale.value = next
    store?.setItem(LOCALE_STORAGE_KEY, next)
  }

  return { theme, locale, asideCollapsed, init, setTheme, toggleTheme, changeLocale }
})
