import { describe, expect, it } from 'vitest'
import { parseRecordLink } from '../useRecordLink'

describe('parseRecordLink', () => {
  it('reads the link alerts carry', () => {
    expect(parseRecordLink({ year: '2026', month: '12', recordId: '9001' })).toEqual({ year: 2026, month: 12, id: 9001 })
  })

  it('ignores incomplete or invalid links', () => {
    expect(parseRecordLink({})).toBeNull()
    expect(parseRecordLink({ taskId: '3' })).toBeNull()
    expect(parseRecordLink({ year: '2026', month: '13', recordId: '1' })).toBeNull()
    expect(parseRecordLink({ year: '2026', month: '1', recordId: '0' })).toBeNull()
    expect(parseRecordLink({ year: '2026', month: '1', recordId: '1.5' })).toBeNull()
    expect(parseRecordLink({ year: 'x', month: '1', recordId: '1' })).toBeNull()
  })
})
