import { onBeforeUnmount, onMounted, ref, shallowRef } from 'vue'
import { listNodes } from '@/api/system'
import type { SchedulerNode } from '@/api/types'
import { toastError } from '@/utils/feedback'

const REFRESH_MS = 5000

export function useNodes() {
  const rows = shallowRef<SchedulerNode[]>([])
  const loading = ref(false)
  const autoRefresh = ref(true)
  let timer: ReturnType<typeof setInterval> | undefined

  async function load(quiet = false): Promise<void> {
    if (!quiet) loading.value = true
    try {
      rows.value = await listNodes()
    } catch (error) {
      if (!quiet) toastError(error)
    } finally {
      loading.value = false
    }
  }

  onMounted(async () => {
    await load()
    timer = setInterval(() => {
      if (autoRefresh.value && !document.hidden) void load(true)
    }, REFRESH_MS)
  })
  onBeforeUnmount(() => clearInterval(timer))

  return { rows, loading, autoRefresh, load }
}
