import { onMounted, reactive, ref, shallowRef } from 'vue'
import { listAuditLogs } from '@/api/system'
import type { AuditLog } from '@/api/types'
import { errorText } from '@/utils/feedback'

export function useAudit() {
  const filters = reactive({ action: '' as string | undefined, objectType: '' as string | undefined, range: null as [string, string] | null })
  const page = ref(1)
  const size = ref(20)
  const total = ref(0)
  const rows = shallowRef<AuditLog[]>([])
  const loading = ref(false)
  /** Why the list could not be loaded (shown with Retry instead of "No Data"); null when it was. */
  const loadError = ref<string | null>(null)

  async function load(): Promise<void> {
    loading.value = true
    loadError.value = null
    try {
      const result = await listAuditLogs({
        page: page.value,
        size: size.value,
        action: filters.action?.trim() || undefined,
        objectType: filters.objectType?.trim() || undefined,
        start: filters.range?.[0],
        end: filters.range?.[1],
      })
      rows.value = result.list
      total.value = result.total
    } catch (error) {
      rows.value = []
      total.value = 0
      loadError.value = errorText(error)
    } finally {
      loading.value = false
    }
  }

  function search(): Promise<void> {
    page.value = 1
    return load()
  }

  onMounted(load)
  return { filters, page, size, total, rows, loading, loadError, load, search }
}
