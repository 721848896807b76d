import { describe, expect, it } from 'vitest'
import { resolveZone } from '@/stores/platform'
import { formatDateTime, formatInZone, formatTaskTime, formatZoned, zoneOffsetLabel } from '../format'

describe('times and zones (issue 20, defect 2)', () => {
  it('shows a Berlin task in its own zone with the Shanghai viewer in the tooltip', () => {
    // Monday 2026-12-07 09:30 in Berlin (CET, UTC+1) is 08:30 UTC and 16:30 in Shanghai.
    const shown = formatTaskTime('2026-12-07T08:30:00Z', 'Europe/Berlin', 'Asia/Shanghai')
    expect(shown.text).toBe('2026-12-07 09:30:00 (Europe/Berlin)')
    expect(shown.tooltip).toBe('2026-12-07 16:30:00 (Asia/Shanghai)')
  })

  it('has no tooltip when the viewer reads the same wall time', () => {
    expect(formatTaskTime('2026-12-07T08:30:00Z', 'Europe/Berlin', 'Europe/Berlin').tooltip).toBeNull()
    expect(formatTaskTime('2026-12-07T08:30:00Z', 'UTC', 'Etc/UTC').tooltip).toBeNull()
    expect(formatTaskTime(null, 'Europe/Berlin', 'Asia/Shanghai')).toEqual({ text: '-', tooltip: null })
  })

  it('labels records and audit times with the viewer zone offset', () => {
    expect(formatDateTime('2026-12-05T09:30:00Z', 'Asia/Shanghai')).toBe('2026-12-05 17:30:00 UTC+8')
    expect(formatDateTime('2026-12-05T09:30:00Z', 'UTC')).toBe('2026-12-05 09:30:00 UTC')
    expect(formatDateTime('2026-07-01T12:00:00Z', 'Asia/Kolkata')).toBe('2026-07-01 17:30:00 UTC+5:30')
    expect(formatDateTime('2026-07-01T12:00:00Z', 'America/New_York')).toBe('2026-07-01 08:00:00 UTC-4')
    expect(formatDateTime(null)).toBe('-')
    expect(formatDateTime('not a time')).toBe('not a time')
  })

  it('follows daylight saving time in the offset', () => {
    expect(zoneOffsetLabel(new Date('2026-01-15T12:00:00Z'), 'Europe/Berlin')).toBe('UTC+1')
    expect(zoneOffsetLabel(new Date('2026-07-15T12:00:00Z'), 'Europe/Berlin')).toBe('UTC+2')
  })

  it('formats in a zone, with the zone named', () => {
    expect(formatInZone('2026-12-31T23:59:59Z', 'Asia/Shanghai')).toBe('2027-01-01 07:59:59')
    expect(formatZoned('2026-12-05T09:30:00Z', 'Asia/Shanghai')).toBe('2026-12-05 17:30:00 (Asia/Shanghai)')
    expect(formatZoned('', 'UTC')).toBe('-')
  })

  it('resolves the user menu choice to a zone', () => {
    expect(resolveZone('browser', 'Asia/Shanghai', 'Europe/Berlin')).toBe('Europe/Berlin')
    expect(resolveZone('utc', 'Asia/Shanghai', 'Europe/Berlin')).toBe('UTC')
    expect(resolveZone('platform', 'Asia/Shanghai', 'Europe/Berlin')).toBe('Asia/Shanghai')
    expect(resolveZone('platform', null, 'Europe/Berlin')).toBe('Europe/Berlin')
  })
})
