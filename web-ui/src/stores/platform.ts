import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import { getFeatures, type Features } from '@/api/features'
import { browserTimeZone, viewerZone } from '@/utils/format'

/** Which zone the console shows instants in (user menu, kept in localStorage). */
export type ZoneChoice = 'browser' | 'utc' | 'platform'
export const ZONE_CHOICES: readonly ZoneChoice[] = ['browser', 'utc', 'platform']
export const ZONE_STORAGE_KEY = 'djs.timeZone'

function storedChoice(): ZoneChoice {
  try {
    const value = localStorage.getItem(ZONE_STORAGE_KEY)
    return ZONE_CHOICES.includes(value as ZoneChoice) ? (value as ZoneChoice) : 'browser'
  } catch {
    return 'browser'
  }
}

/** The zone a choice means; the platform zone falls back to the browser's until /features answered. */
export function resolveZone(choice: ZoneChoice, platformZone: string | null, browser = browserTimeZone()): string {
  if (choice === 'utc') return 'UTC'
  if (choice === 'platform' && platformZone) return platformZone
  return browser
}

/** The platform's switches (GET /v1/features) and the viewer's time-zone setting (issue 20, defects 2 and 5). */
export const usePlatformStore = defineStore('platform', () => {
  const features = shallowRef<Features | null>(null)
  const zoneChoice = ref<ZoneChoice>(storedChoice())
  let pending: Promise<Features | null> | null = null

  /** SHELL unknown (not loaded yet, or the request failed) counts as enabled: the server refuses anyway. */
  const shellEnabled = computed(() => features.value?.shell ?? true)
  const platformZone = computed(() => features.value?.timezone ?? null)
  const zone = computed(() => resolveZone(zoneChoice.value, platformZone.value))

  watch(zone, (value) => (viewerZone.value = value), { immediate: true })

  /** Loads the features once per session (again after `reset`). */
  function load(): Promise<Features | null> {
    pending ??= getFeatures()
      .then((value) => (features.value = value))
      .catch(() => {
        pending = null
        return null
      })
    return pending
  }

  function setZoneChoice(choice: ZoneChoice): void {
    zoneChoice.value = choice
    try {
      localStorage.setItem(ZONE_STORAGE_KEY, choice)
    } catch {
      // Private mode without storage: the choice lasts for this tab.
    }
  }

  function reset(): void {
    features.value = null
    pending = null
  }

  return { features, zoneChoice, shellEnabled, platformZone, zone, load, setZoneChoice, reset }
})
