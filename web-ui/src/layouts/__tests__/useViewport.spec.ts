import { afterEach, describe, expect, it, vi } from 'vitest'
import { effectScope } from 'vue'
import { NARROW_MAX_WIDTH, useMediaQuery, useNarrow } from '../useViewport'

/** A `matchMedia` whose one list the test flips, counting its listeners. */
function fakeMatchMedia(initial: boolean) {
  const listeners = new Set<(event: MediaQueryListEvent) => void>()
  const queries: string[] = []
  const list = {
    matches: initial,
    addEventListener: (_: string, fn: (event: MediaQueryListEvent) => void) => listeners.add(fn),
    removeEventListener: (_: string, fn: (event: MediaQueryListEvent) => void) => listeners.delete(fn),
  }
  vi.stubGlobal('matchMedia', (query: string) => {
    queries.push(query)
    return list
  })
  return {
    queries,
    listeners,
    flip(matches: boolean) {
      list.matches = matches
      for (const fn of listeners) fn({ matches } as MediaQueryListEvent)
    },
  }
}

describe('useMediaQuery', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('starts with what the query says and follows its changes', () => {
    const media = fakeMatchMedia(false)
    const scope = effectScope()
    const narrow = scope.run(() => useNarrow())!
    expect(media.queries).toEqual([`(max-width: ${NARROW_MAX_WIDTH}px)`])
    expect(narrow.value).toBe(false)
    media.flip(true)
    expect(narrow.value).toBe(true)
    media.flip(false)
    expect(narrow.value).toBe(false)
    scope.stop()
  })

  it('stops listening when its scope ends (a layout unmounted)', () => {
    const media = fakeMatchMedia(true)
    const scope = effectScope()
    const wide = scope.run(() => useMediaQuery('(min-width: 1280px)'))!
    expect(wide.value).toBe(true)
    expect(media.listeners.size).toBe(1)
    scope.stop()
    expect(media.listeners.size).toBe(0)
  })

  it('is false where matchMedia does not exist', () => {
    vi.stubGlobal('matchMedia', undefined)
    expect(useNarrow().value).toBe(false)
  })
})
