import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import type { RecordStatus } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import RecordStatusTag from '../RecordStatusTag.vue'

/** The record's start mark (issue 17): a claimed run is "Waiting" until its start time is set, then "Running". */
describe('RecordStatusTag', () => {
  afterEach(async () => setLocale('en'))

  function label(record: { status: number; startTime: string | null }): string {
    const props = { record: { status: record.status as RecordStatus, startTime: record.startTime } }
    return mount(RecordStatusTag, { props, global: { plugins: [i18n] } }).text()
  }

  it('says Waiting for a claimed run without a start time and Running once it started', async () => {
    await setLocale('en')
    expect(label({ status: 0, startTime: null })).toBe('Waiting')
    expect(label({ status: 0, startTime: '2026-12-05T14:00:00Z' })).toBe('Running')
    expect(label({ status: 1, startTime: '2026-12-05T14:00:00Z' })).toBe('Success')
  })

  it('speaks Chinese', async () => {
    await setLocale('zh-CN')
    expect(label({ status: 0, startTime: null })).not.toBe(label({ status: 0, startTime: '2026-12-05T14:00:00Z' }))
    expect(label({ status: 0, startTime: '2026-12-05T14:00:00Z' })).toMatch(/[\u4e00-\u9fff]/)
  })
})
