import { reactive, watch } from 'vue'
import type { FieldErrors } from '@/api/http'
import { ApiError } from '@/api/http'

export interface MappedFieldErrors {
  /** Messages per form-item `prop`, ready for `<el-form-item :error="errors[prop]">`. */
  byProp: Record<string, string>
  /** Messages the form has no field for (non-field errors, unknown keys), as "field: message". */
  unmatched: string[]
}

/**
 * Map the server's `data.fields` (`{camelField: [messages]}`, nested keys like `headers.X-Y` or
 * `items[0].name`) onto the form's props. `aliases` renames server keys to props (e.g. `cron` -> `cron`
 * is implicit; `grpcParams` -> `grpcParamsText`).
 */
export function mapFieldErrors(
  fields: FieldErrors,
  props: readonly string[],
  aliases: Record<string, string> = {},
): MappedFieldErrors {
  const known = new Set(props)
  const byProp: Record<string, string> = {}
  const unmatched: string[] = []
  for (const [key, messages] of Object.entries(fields)) {
    const text = messages.join('; ')
    const base = key.split(/[.[]/, 1)[0] ?? key
    const prop = aliases[key] ?? aliases[base] ?? (known.has(key) ? key : base)
    if (known.has(prop)) {
      byProp[prop] = byProp[prop] ? `${byProp[prop]}; ${text}` : text
    } else if (key === 'non_field_errors') {
      unmatched.push(text)
    } else {
      unmatched.push(`${key}: ${text}`)
    }
  }
  return { byProp, unmatched }
}

/**
 * Reactive per-field server errors for one form. `apply(error)` returns the messages that could not be
 * placed on a field (the caller shows them in a banner), or null when the error is not a 4001 with fields.
 * With `model` (the form's reactive data), a field's server error disappears as soon as its value changes.
 */
export function useFieldErrors(
  props: readonly string[],
  aliases: Record<string, string> = {},
  model?: object,
) {
  const errors = reactive<Record<string, string>>({})
  if (model) {
    const values = model as Record<string, unknown>
    for (const prop of props) {
      if (prop in values) watch(() => values[prop], () => delete errors[prop], { deep: true })
    }
  }
  function clear(): void {
    for (const key of Object.keys(errors)) delete errors[key]
  }
  function apply(error: unknown): string[] | null {
    clear()
    if (!(error instanceof ApiError) || !error.hasFields) return null
    const mapped = mapFieldErrors(error.fields, props, aliases)
    Object.assign(errors, mapped.byProp)
    return mapped.unmatched
  }
  return { errors, clear, apply }
}
