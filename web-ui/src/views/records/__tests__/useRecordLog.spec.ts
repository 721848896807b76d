import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { RecordLog } from '@/api/types'
import { LOG_SLICE, formatBytes, useRecordLog } from '../useRecordLog'

const { getRecordLog, toastError } = vi.hoisted(() => ({ getRecordLog: vi.fn(), toastError: vi.fn() }))
vi.mock('@/api/records', () => ({ getRecordLog }))
vi.mock('@/utils/feedback', () => ({ toastError }))

const month = { year: 2026, month: 12 }

function slice(overrides: Partial<RecordLog>): RecordLog {
  return { recordId: 7, taskId: 3, exists: true, size: 0, offset: 0, content: '', nextOffset: null, executor: 'node-a', ...overrides }
}

function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

beforeEach(() => {
  getRecordLog.mockReset()
  toastError.mockReset()
})

describe('useRecordLog', () => {
  it('loads the first slice, then the next ones while nextOffset is set', async () => {
    getRecordLog
      .mockResolvedValueOnce(slice({ size: 10, content: 'hello ', nextOffset: 6 }))
      .mockResolvedValueOnce(slice({ size: 10, offset: 6, content: 'log\n', nextOffset: null }))
    const log = useRecordLog()
    await log.open(7, month)
    expect(getRecordLog).toHaveBeenLastCalledWith(7, month, { offset: 0, limit: LOG_SLICE })
    expect(log.content.value).toBe('hello ')
    expect(log.hasMore.value).toBe(true)
    expect(log.remaining.value).toBe(4)

    await log.more()
    expect(getRecordLog).toHaveBeenLastCalledWith(7, month, { offset: 6, limit: LOG_SLICE })
    expect(log.content.value).toBe('hello log\n')
    expect(log.hasMore.value).toBe(false)
    expect(log.loaded.value).toBe(10)

    await log.more() // at the end: nothing to ask for
    expect(getRecordLog).toHaveBeenCalledTimes(2)
  })

  it('refresh appends what was written since the end of the file', async () => {
    getRecordLog
      .mockResolvedValueOnce(slice({ size: 4, content: 'one\n' }))
      .mockResolvedValueOnce(slice({ size: 8, offset: 4, content: 'two\n' }))
    const log = useRecordLog()
    await log.open(7, month)
    await log.refresh()
    expect(getRecordLog).toHaveBeenLastCalledWith(7, month, { offset: 4, limit: LOG_SLICE })
    expect(log.content.value).toBe('one\ntwo\n')
  })

  it('reports a missing file with the node that ran the record, and refresh starts over', async () => {
    getRecordLog
      .mockResolvedValueOnce(slice({ exists: false, executor: 'node-b' }))
      .mockResolvedValueOnce(slice({ size: 3, content: 'hi\n' }))
    const log = useRecordLog()
    await log.open(7, month)
    expect(log.last.value).toMatchObject({ exists: false, executor: 'node-b' })
    expect(log.hasMore.value).toBe(false)
    expect(log.remaining.value).toBe(0)
    await log.refresh()
    expect(getRecordLog).toHaveBeenLastCalledWith(7, month, { offset: 0, limit: LOG_SLICE })
    expect(log.content.value).toBe('hi\n')
  })

  it('drops a late answer for a record that is no longer shown', async () => {
    const late = deferred<RecordLog>()
    getRecordLog.mockReturnValueOnce(late.promise).mockResolvedValueOnce(slice({ recordId: 8, size: 5, content: 'mine\n' }))
    const log = useRecordLog()
    const first = log.open(7, month)
    await log.open(8, month)
    late.resolve(slice({ size: 6, content: 'other\n' }))
    await first
    expect(log.content.value).toBe('mine\n')
    expect(log.last.value?.recordId).toBe(8)
    expect(log.loading.value).toBe(false)
  })

  it('shows an error as a toast and keeps what was loaded', async () => {
    const failure = new Error('boom')
    getRecordLog.mockResolvedValueOnce(slice({ size: 10, content: 'part', nextOffset: 4 })).mockRejectedValueOnce(failure)
    const log = useRecordLog()
    await log.open(7, month)
    await log.more()
    expect(toastError).toHaveBeenCalledWith(failure)
    expect(log.content.value).toBe('part')
    expect(log.loading.value).toBe(false)
  })
})

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(256 * 1024)).toBe('256.0 KiB')
    expect(formatBytes(1.5 * 1024 * 1024)).toBe('1.5 MiB')
  })
})
