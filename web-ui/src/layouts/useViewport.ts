import { getCurrentScope, onScopeDispose, readonly, ref, type Ref } from 'vue'

/**
 * Widths at and below this (px) are a phone or a narrow window: the menu becomes a drawer opened from the header,
 * forms take one column, dialogs and drawers fit the screen. styles/main.css uses the same number.
 */
export const NARROW_MAX_WIDTH = 767

/** Whether a CSS media query matches, following its changes (false where `matchMedia` does not exist). */
export function useMediaQuery(query: string): Readonly<Ref<boolean>> {
  const list = typeof window !== 'undefined' && typeof window.matchMedia === 'function' ? window.matchMedia(query) : null
  const matches = ref(list?.matches ?? false)
  if (list) {
    const update = (event: MediaQueryListEvent) => {
      matches.value = event.matches
    }
    list.addEventListener('change', update)
    if (getCurrentScope()) onScopeDispose(() => list.removeEventListener('change', update))
  }
  return readonly(matches)
}

/** True on a phone-width screen (see `NARROW_MAX_WIDTH`). */
export function useNarrow(): Readonly<Ref<boolean>> {
  return useMediaQuery(`(max-width: ${NARROW_MAX_WIDTH}px)`)
}
