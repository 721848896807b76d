import type { ApiToken, ApiTokenInput } from '@/api/tokens'

/** Expiry choices of the create dialog: days, never, or a number of days typed in. */
export type ExpiryChoice = 7 | 30 | 90 | 365 | 'never' | 'custom'
export const EXPIRY_CHOICES: readonly ExpiryChoice[] = [7, 30, 90, 365, 'never', 'custom']
export const MAX_EXPIRY_DAYS = 3650
export const NAME_MAX_LENGTH = 100

export interface ApiTokenForm {
  name: string
  expiry: ExpiryChoice
  customDays: number | undefined
}

export function emptyTokenForm(): ApiTokenForm {
  return { name: '', expiry: 90, customDays: 30 }
}

/** The POST body: the trimmed name and `expiresInDays` (left out for "never"; the server checks the range). */
export function tokenFormToInput(form: ApiTokenForm): ApiTokenInput {
  const body: ApiTokenInput = { name: form.name.trim() }
  if (form.expiry === 'custom') {
    if (form.customDays !== undefined) body.expiresInDays = form.customDays
  } else if (form.expiry !== 'never') {
    body.expiresInDays = form.expiry
  }
  return body
}

/** Element Plus tag type of a token's state. */
export function stateTagType(state: ApiToken['state']): 'success' | 'warning' | 'info' {
  return state === 'active' ? 'success' : state === 'expired' ? 'warning' : 'info'
}

/**
 * Copy text to the clipboard: the Clipboard API where the page may use it (HTTPS, localhost), else the
 * selection of the given input and `execCommand('copy')` (a console served over plain HTTP). True on success.
 */
export async function copyText(text: string, input?: HTMLInputElement | null): Promise<boolean> {
  try {
    if (typeof navigator !== 'undefined' && navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text)
      return true
    }
  } catch {
    // fall through to the selection
  }
  if (!input || typeof document === 'undefined') return false
  input.focus()
  input.select()
  try {
    return document.execCommand('copy')
  } catch {
    return false
  }
}
