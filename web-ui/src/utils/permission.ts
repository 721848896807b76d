import type { Directive, DirectiveBinding } from 'vue'
import { useAuthStore } from '@/stores/auth'

/** Permission codes of the platform (DESIGN.md §3). */
export const PERMISSIONS = [
  'task:view',
  'task:create',
  'task:update',
  'task:delete',
  'task:execute',
  'record:view',
  'department:manage',
  'user:manage',
  'role:manage',
  'system:manage',
  'task:shell',
  'executor:view',
  'executor:manage',
  'executor:register',
] as const
export type PermissionCode = (typeof PERMISSIONS)[number]
export type Requirement = string | readonly string[] | null | undefined

/**
 * Whether `granted` satisfies `required`: every listed code (mode "all", the default) or at least one
 * (mode "any"). No requirement is always satisfied. Hiding is a courtesy: the API refuses anyway (4003).
 */
export function hasPermission(
  granted: Iterable<string> | null | undefined,
  required: Requirement,
  mode: 'all' | 'any' = 'all',
): boolean {
  if (required === null || required === undefined) return true
  const needed = typeof required === 'string' ? [required] : [...required]
  if (needed.length === 0) return true
  const have = granted instanceof Set ? (granted as Set<string>) : new Set(granted ?? [])
  return mode === 'any' ? needed.some((code) => have.has(code)) : needed.every((code) => have.has(code))
}

function apply(el: HTMLElement, binding: DirectiveBinding<Requirement>): void {
  const auth = useAuthStore()
  const mode = binding.modifiers.any ? 'any' : 'all'
  if (!hasPermission(auth.permissions, binding.value, mode)) {
    // Removed rather than hidden with CSS: nothing to re-enable from the browser's inspector.
    el.remove()
  }
}

/**
 * `v-permission="'task:delete'"` or `v-permission.any="['user:manage', 'role:manage']"` removes the
 * element for users without the permission(s). Templates that need a reactive check use `can()`.
 */
export const vPermission: Directive<HTMLElement, Requirement> = {
  mounted: apply,
  updated: apply,
}
