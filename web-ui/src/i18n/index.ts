import { shallowRef } from 'vue'
import { createI18n } from 'vue-i18n'
import type { Language } from 'element-plus/es/locale'
import type en from './locales/en'

export const SUPPORTED_LOCALES = ['en', 'zh-CN'] as const
export type Locale = (typeof SUPPORTED_LOCALES)[number]
export type MessageSchema = typeof en.messages

export const LOCALE_STORAGE_KEY = 'djs.locale'

/** The saved choice, else the browser's first language: any `zh*` gives zh-CN, anything else English. */
export function detectLocale(saved: string | null | undefined, languages: readonly string[]): Locale {
  if (saved && (SUPPORTED_LOCALES as readonly string[]).includes(saved)) return saved as Locale
  for (const language of languages) {
    const lower = language.toLowerCase()
    if (lower.startsWith('zh')) return 'zh-CN'
    if (lower.startsWith('en')) return 'en'
  }
  return 'en'
}

export const i18n = createI18n({
  legacy: false,
  locale: 'en',
  fallbackLocale: 'en',
  messages: {},
  missingWarn: false,
  fallbackWarn: false,
})

/** Element Plus' own strings (pagination, date pickers, ...) for <el-config-provider>. */
export const elementLocale = shallowRef<Language | undefined>(undefined)

const loaders: Record<Locale, () => Promise<{ default: { messages: MessageSchema; element: Language } }>> = {
  en: () => import('./locales/en'),
  'zh-CN': () => import('./locales/zh-CN'),
}

const elementLocales: Partial<Record<Locale, Language>> = {}

/**
 * Load a locale's messages on demand (each locale is its own small chunk) and make it current. Both
 * locales carry the same keys (a unit test checks), so no fallback bundle has to be downloaded.
 */
export async function setLocale(locale: Locale): Promise<void> {
  const global = i18n.global
  if (!elementLocales[locale]) {
    const { default: bundle } = await loaders[locale]()
    global.setLocaleMessage(locale, bundle.messages)
    elementLocales[locale] = bundle.element
  }
  global.locale.value = locale
  elementLocale.value = elementLocales[locale]
  if (typeof document !== 'undefined') document.documentElement.lang = locale
}
