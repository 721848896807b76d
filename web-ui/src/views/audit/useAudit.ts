import { onMounted, reactive, ref, shallowRef } from 'vue'
import { listAuditLogs } from '@/api/system'
import type { AuditLog } from '@/api/types'
import { toastError } from '@/utils/feedback'

export function useAudit() {
  const filters = reactive({ action: '', objectType: '', range: null as [string, string] | null })
  const page = ref(1)
  const size = ref(20)
  const total = ref(0)
  const rows = shallowRef<AuditLog[]>([])
  const loading = ref(false)

  async function load(): Promise<void> {
    loading.value = true
    try {
      const result = await listAuditLogs({
        page: page.value,
        size: size.value,
        action: filters.action.trim() || undefined,
        objectType: filters.objectType.trim() || undefined,
        start: filters.range?.[0],
        end: filters.range?.[1],
      })
      rows.value = result.list
      total.value = result.total
    } catch (error) {
      toastError(error)
    } finally {
      loading.value = false
    }
  }

  function search(): Promise<void> {
    page.value = 1
    return load()
  }

  onMounted(load)
  return { filters, page, size, total, rows, loading, load, search }
}
