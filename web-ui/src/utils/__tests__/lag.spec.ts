import { describe, expect, it } from 'vitest'
import type { TaskRecord } from '@/api/types'
import { lagSummary, percentile, scheduleLags } from '../lag'

function record(scheduled: string, start: string | null, triggerType: TaskRecord['triggerType'] = 'SCHEDULE'): TaskRecord {
  return { scheduledTime: scheduled, startTime: start, triggerType } as TaskRecord
}

describe('schedule lag', () => {
  it('is start minus scheduled time of scheduled fires that started', () => {
    const records = [
      record('2026-11-01T00:00:00Z', '2026-11-01T00:00:00.120Z'),
      record('2026-11-01T00:00:01Z', null), // claimed, not started yet
      record('2026-11-01T00:00:02Z', '2026-11-01T00:00:04Z', 'MANUAL'), // manual runs have no schedule
      record('2026-11-01T00:00:03Z', '2026-11-01T00:00:02.990Z'), // clock skew never gives a negative lag
    ]
    expect(scheduleLags(records)).toEqual([120, 0])
  })

  it('summarises with nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(values, 50)).toBe(50)
    expect(percentile(values, 95)).toBe(95)
    expect(percentile([7], 95)).toBe(7)
    expect(percentile([], 50)).toBeNull()
    const summary = lagSummary([
      record('2026-11-01T00:00:00Z', '2026-11-01T00:00:00.010Z'),
      record('2026-11-01T00:00:01Z', '2026-11-01T00:00:01.030Z'),
      record('2026-11-01T00:00:02Z', '2026-11-01T00:00:02.500Z'),
    ])
    expect(summary).toEqual({ samples: 3, p50: 30, p95: 500, max: 500 })
    expect(lagSummary([])).toEqual({ samples: 0, p50: null, p95: null, max: null })
  })
})
