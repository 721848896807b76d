/**
 * After a failed save on a long form (issue 20, defect 4): which fields are marked invalid, and bring the first
 * one into view with the focus in it. Works on the rendered form (Element Plus marks an invalid item with
 * `.el-form-item.is-error`, whether a rule failed or the server's `data.fields` set its `error` prop), so the
 * order is the order on screen and the names are the labels the user reads.
 */
export interface InvalidField {
  /** The form item's label as shown (`Name`, `Cron`), or its prop when it has no label. */
  label: string
  element: HTMLElement
}

const EDITABLE = 'input:not([type="hidden"]):not([disabled]):not([readonly]), textarea:not([disabled]):not([readonly])'
const FOCUSABLE = 'input:not([type="hidden"]):not([disabled]), textarea:not([disabled]), select:not([disabled]), [tabindex]:not([tabindex="-1"])'

export function invalidFields(root: ParentNode | null | undefined): InvalidField[] {
  if (!root) return []
  const items = Array.from(root.querySelectorAll<HTMLElement>('.el-form-item.is-error'))
  return items.map((element) => {
    const label = element.querySelector('.el-form-item__label')?.textContent?.trim()
    const prop = element.querySelector('[data-prop]')?.getAttribute('data-prop') ?? ''
    return { label: label || prop || '?', element }
  })
}

/**
 * Scrolls to the first invalid field and focuses its first input; returns the labels of every invalid field
 * (empty when none is marked). `fallback` (a banner with non-field errors) is scrolled to instead when no field
 * is marked.
 */
export function revealFormErrors(root: ParentNode | null | undefined, fallback?: HTMLElement | null): string[] {
  const fields = invalidFields(root)
  const first = fields[0]?.element ?? fallback ?? null
  if (first) {
    first.scrollIntoView?.({ behavior: 'smooth', block: 'center' })
    // A text box the user can type into first (the URL rather than the method select before it), else anything.
    const item = fields[0]?.element
    const input = item?.querySelector<HTMLElement>(EDITABLE) ?? item?.querySelector<HTMLElement>(FOCUSABLE)
    input?.focus({ preventScroll: true })
  }
  return [...new Set(fields.map((field) => field.label))]
}
