/**
 * Cron made readable (issue 20): the sentence under the cron field and on the task page, in both languages, for
 * the platform's grammar (seconds first, @every, macros, seed 001's short forms); nothing for what the platform
 * refuses; the builder writes its expressions and reads them back.
 */
import { flushPromises, mount } from '@vue/test-utils'
import { beforeAll, describe, expect, it } from 'vitest'
import { ref } from 'vue'
import { i18n, setLocale } from '@/i18n'
import CronBuilder from '../CronBuilder.vue'
import {
  BUILDER_INTERVALS,
  buildCron,
  defaultBuilderState,
  describeCron,
  parseBuilderCron,
  parseDuration,
  type CronBuilderState,
} from '../cronText'

const t = (key: string, named?: Record<string, unknown>) => i18n.global.t(key, named ?? {})
const en = (expression: string) => describeCron(expression, 'en', t)
const zh = (expression: string) => describeCron(expression, 'zh-CN', t)

describe('describeCron', () => {
  beforeAll(async () => {
    await setLocale('zh-CN')
    await setLocale('en')
  })

  it('says @every and bare durations in both languages', async () => {
    expect(en('@every 5s')).toBe('Every 5 seconds')
    expect(en('@every 1h30m')).toBe('Every 1 hour 30 minutes')
    expect(en('@every 1s')).toBe('Every 1 second')
    expect(en('30s')).toBe('Every 30 seconds')
    await setLocale('zh-CN')
    expect(zh('@every 5s')).toBe('每 5 秒')
    expect(zh('@every 1h30m')).toBe('每 1 小时 30 分钟')
    await setLocale('en')
  })

  it('reads six fields with seconds first', () => {
    expect(en('*/5 * * * * *')).toBe('Every 5 seconds')
    expect(zh('*/5 * * * * *')).toBe('每隔 5 秒')
    expect(en('0 30 9 * * MON-FRI')).toBe('At 09:30, Monday through Friday')
    expect(zh('0 30 9 * * MON-FRI')).toBe('在09:30, 星期一至星期五')
  })

  it('reads five fields, macros, ? and daily times like the platform', () => {
    expect(en('0 */2 * * *')).toBe('On the hour, every 2 hours') // seed 001
    expect(en('@hourly')).toBe('Every hour')
    expect(en('@daily')).toBe('At 00:00')
    expect(en('02:00')).toBe('At 02:00') // seed 001's daily form
    expect(en('0 0 12 ? * 1')).toBe('At 12:00, only on Monday')
    expect(en('0 0 * * 7')).toBe('At 00:00, only on Sunday')
  })

  it('says nothing for what the platform refuses or cronstrue would word wrongly', () => {
    expect(en('0 0 L * *')).toBeNull() // Quartz L: cronstrue reads it, DJS refuses it
    expect(en('0 0 ? * 1#2')).toBeNull()
    expect(en('1 2 3 4 5 6 7')).toBeNull() // a year field
    expect(en('0 61 * * *')).toBeNull()
    expect(en('@every 500ms')).toBeNull()
    expect(en('@reboot')).toBeNull()
    expect(en('0 0 1 * */2')).toBeNull() // Vixie: both day fields must match; cronstrue would say "and"
    expect(en('')).toBeNull()
  })

  it('parses durations as the platform does', () => {
    expect(parseDuration('1h30m')).toBe(5400)
    expect(parseDuration('1.5m')).toBe(90)
    expect(parseDuration('0.5s')).toBeNull()
    expect(parseDuration('1d')).toBeNull()
  })
})

describe('cron builder', () => {
  it('writes each common schedule and reads it back', () => {
    const base = defaultBuilderState()
    const cases: [Partial<CronBuilderState>, string][] = [
      [{ mode: 'seconds', interval: 10 }, '*/10 * * * * *'],
      [{ mode: 'minutes', interval: 1 }, '* * * * *'],
      [{ mode: 'minutes', interval: 15 }, '*/15 * * * *'],
      [{ mode: 'hours', interval: 6 }, '0 */6 * * *'],
      [{ mode: 'daily', hour: 2, minute: 30 }, '30 2 * * *'],
      [{ mode: 'weekly', hour: 9, minute: 0, days: [5, 1, 3] }, '0 9 * * 1,3,5'],
      [{ mode: 'monthly', hour: 0, minute: 5, dayOfMonth: 15 }, '5 0 15 * *'],
    ]
    for (const [choice, expression] of cases) {
      const state = { ...base, ...choice }
      expect(buildCron(state)).toBe(expression)
      const back = parseBuilderCron(expression)!
      expect(buildCron(back)).toBe(expression)
      expect(back.mode).toBe(state.mode)
    }
  })

  it('reads presets it can show and leaves other expressions alone', () => {
    expect(parseBuilderCron('0 9 * * 1-5')).toMatchObject({ mode: 'weekly', days: [1, 2, 3, 4, 5], hour: 9 })
    expect(parseBuilderCron('*/7 * * * *')).toBeNull() // not an interval the builder offers
    expect(parseBuilderCron('@every 30s')).toBeNull()
    expect(parseBuilderCron('0 0 1 1 *')).toBeNull()
    expect(BUILDER_INTERVALS.seconds.every((n) => 60 % n === 0)).toBe(true)
  })
})

describe('cron builder component', () => {
  it('shows the choices of the expression in the field and writes the one picked', async () => {
    await setLocale('en')
    const cron = ref('0 9 * * 1-5')
    const wrapper = mount(CronBuilder, {
      props: { modelValue: cron.value, 'onUpdate:modelValue': (value: string) => (cron.value = value) },
      global: { plugins: [i18n] },
    })
    const checked = () => wrapper.find('[data-testid="builder-mode"] .is-active').text()
    expect(checked()).toBe('Weekly')
    expect(wrapper.findAll('[data-testid="builder-days"] .is-checked').map((d) => d.text())).toEqual(['Mon', 'Tue', 'Wed', 'Thu', 'Fri'])
    await wrapper.find('[data-testid="builder-mode-daily"] input').setValue(true)
    await flushPromises()
    expect(cron.value).toBe('0 9 * * *')
    await wrapper.setProps({ modelValue: '@every 30s' })
    expect(wrapper.find('[data-testid="builder-custom"]').exists()).toBe(true)
  })
})
