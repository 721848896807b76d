import { computed, ref, shallowRef } from 'vue'
import { getRecordLog } from '@/api/records'
import type { MonthQuery, RecordLog } from '@/api/types'
import { toastError } from '@/utils/feedback'

/** Bytes asked for per request (the API allows up to 1 MiB). */
export const LOG_SLICE = 256 * 1024
/** While a run is going, what it wrote since is asked for this often (no SSE on gthread workers). */
export const LIVE_POLL_MS = 1000

/** `812 B`, `256.0 KiB`, `1.5 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}

/**
 * The log of one SHELL execution, read in slices of LOG_SLICE bytes: `open` loads the first one, `more`
 * the next (while `nextOffset` is not null), `refresh` whatever was written since (a run still going, a
 * retry appending its attempt). `follow` keeps asking for new output every LIVE_POLL_MS (live output of a
 * running execution) until `unfollow` or `close`. The text is only ever rendered as text.
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

  async function fetchFrom(offset: number, replace: boolean, mine: number): Promise<void> {
    if (!target || mine !== generation) return
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

  // Reads of one record run one after the other, each from where the previous one ended: two appends asked for
  // at once (a live tick and the tail read at the end of the run) must not both add the same bytes.
  let chain: Promise<void> = Promise.resolve()
  function serial(read: (mine: number) => Promise<void>): Promise<void> {
    const mine = generation // the record shown when the read was asked for
    const run = () => read(mine)
    const next = chain.then(run, run)
    chain = next.catch(() => undefined)
    return next
  }

  function open(recordId: number, month: MonthQuery): Promise<void> {
    generation += 1
    target = { id: recordId, month }
    content.value = ''
    last.value = null
    const first = fetchFrom(0, true, generation) // at once: an earlier record's reads are dropped anyway
    chain = first.catch(() => undefined)
    return first
  }

  function more(): Promise<void> {
    return serial((mine) => {
      const next = last.value?.nextOffset
      return next === null || next === undefined ? Promise.resolve() : fetchFrom(next, false, mine)
    })
  }

  /** New output since the last slice; from the start when there was no file yet. */
  function refresh(): Promise<void> {
    return serial((mine) => (last.value?.exists ? fetchFrom(loaded.value, false, mine) : fetchFrom(0, true, mine)))
  }

  const following = ref(false)
  let timer: ReturnType<typeof setInterval> | undefined

  /** Append new output every LIVE_POLL_MS (a tick is skipped while a request is still out). */
  function follow(): void {
    if (timer !== undefined) return
    following.value = true
    timer = setInterval(() => {
      // A slice of unread output still to load: "Load more" belongs to the user, live output to the end.
      if (target && !loading.value && !hasMore.value) void refresh()
    }, LIVE_POLL_MS)
  }

  function unfollow(): void {
    clearInterval(timer)
    timer = undefined
    following.value = false
  }

  function close(): void {
    unfollow()
    generation += 1
    target = null
    loading.value = false
  }

  return { content, last, loading, loaded, remaining, hasMore, following, open, more, refresh, follow, unfollow, close }
}
