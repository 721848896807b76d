import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import { getSchedulerState, pauseScheduler, resumeScheduler } from '@/api/system'
import type { SchedulerState } from '@/api/types'
import { checkReason } from '@/utils/maintenance'

/**
 * Maintenance mode (platform-wide pause of all scheduling), shared by the dashboard and the nodes page.
 * Pause and resume need `system:manage`; the API refuses them otherwise (4003).
 */
export const useMaintenanceStore = defineStore('maintenance', () => {
  const state = shallowRef<SchedulerState | null>(null)
  const busy = ref(false)
  const paused = computed(() => state.value?.paused === true)

  async function load(): Promise<SchedulerState> {
    state.value = await getSchedulerState()
    return state.value
  }

  async function change(action: () => Promise<SchedulerState>): Promise<SchedulerState> {
    busy.value = true
    try {
      state.value = await action()
      return state.value
    } finally {
      busy.value = false
    }
  }

  /** Pause with an optional reason (trimmed; more than 255 characters is refused before any request). */
  function pause(reason = ''): Promise<SchedulerState> {
    const checked = checkReason(reason)
    if (checked.tooLong) return Promise.reject(new RangeError('reason too long'))
    return change(() => pauseScheduler(checked.reason))
  }

  function resume(): Promise<SchedulerState> {
    return change(resumeScheduler)
  }

  return { state, busy, paused, load, pause, resume }
})
