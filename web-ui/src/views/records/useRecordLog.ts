import { computed, ref, shallowRef } from 'vue'
import { getRecordLog } from '@/api/records'
import type { MonthQuery, RecordLog } from '@/api/types'
import { toastError } from '@/utils/feedback'

/** Bytes asked for per request (the API allows up to 1 MiB). */
export const LOG_SLICE = 256 * 1024

/** `812 B`, `256.0 KiB`, `1.5 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}

/**
 * The log of one SHELL execution, read in slices of LOG_SLICE bytes: `open` loads the first one, `more`
 * the next (while `nextOffset` is not null), `refresh` whatever was written since (a run still going, a
 * retry appending its attempt). The text is only ever rendered as text.
 */
export function useRecordLog() {
  const content = ref('')
  /** The last answer (size, nextOffset, exists, executor); null before the first one. */
  const last = shallowRef<RecordLog | null>(null)
  const loading = ref(false)
  let target: { id: number; month: MonthQuery } | null = null
  // Answers for a record the drawer no longer shows are dropped.
  let generation = 0

  /** Bytes of the file read so far. */
  const loaded = computed(() => (last.value?.exists ? (last.value.nextOffset ?? last.value.size) : 0))
  const remaining = computed(() => (last.value?.exists ? Math.max(0, last.value.size - loaded.value) : 0))
  const hasMore = computed(() => last.value?.nextOffset !== null && last.value?.nextOffset !== undefined)

  async function fetchFrom(offset: number, replace: boolean): Promise<void> {
    if (!target) return
    const mine = generation
    loading.value = true
    try {
      const slice = await getRecordLog(target.id, target.month, { offset, limit: LOG_SLICE })
      if (mine !== generation) return
      content.value = replace ? slice.content : content.value + slice.content
      last.value = slice
    } catch (error) {
      if (mine === generation) toastError(error)
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  function open(recordId: number, month: MonthQuery): Promise<void> {
    generation += 1
    target = { id: recordId, month }
    content.value = ''
    last.value = null
    return fetchFrom(0, true)
  }

  function more(): Promise<void> {
    const next = last.value?.nextOffset
    return next === null || next === undefined ? Promise.resolve() : fetchFrom(next, false)
  }

  /** New output since the last slice; from the start when there was no file yet. */
  function refresh(): Promise<void> {
    return last.value?.exists ? fetchFrom(loaded.value, false) : fetchFrom(0, true)
  }

  function close(): void {
    generation += 1
    target = null
    loading.value = false
  }

  return { content, last, loading, loaded, remaining, hasMore, open, more, refresh, close }
}
