import type { TaskRecord } from '@/api/types'

/**
 * Schedule lag = actual start - scheduled time of SCHEDULE fires, computed in the browser from a page of
 * the month's most recent records (there is no lag endpoint; the Prometheus histogram
 * `djs_schedule_lag_seconds` comes with the observability issue). Records without a start time (claimed,
 * not started, or skipped) have no lag.
 */
export function scheduleLags(records: readonly TaskRecord[]): number[] {
  const lags: number[] = []
  for (const r of records) {
    if (r.triggerType !== 'SCHEDULE' || !r.startTime) continue
    const lag = Date.parse(r.startTime) - Date.parse(r.scheduledTime)
    if (!Number.isNaN(lag)) lags.push(Math.max(0, lag))
  }
  return lags
}

/** Nearest-rank percentile (the same definition the stats endpoint uses for p95 cost). */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.min(rank, sorted.length - 1)] ?? null
}

export interface LagSummary {
  samples: number
  p50: number | null
  p95: number | null
  max: number | null
}

export function lagSummary(records: readonly TaskRecord[]): LagSummary {
  const lags = scheduleLags(records)
  return {
    samples: lags.length,
    p50: percentile(lags, 50),
    p95: percentile(lags, 95),
    max: lags.length ? Math.max(...lags) : null,
  }
}
