import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import type { DailyStat, RecordStats, UserInfo } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import { routes } from '@/router'
import { useAuthStore } from '@/stores/auth'
import { monthKey, type YearMonth } from '@/utils/format'
import DashboardView from '../DashboardView.vue'
import { useDashboard } from '../useDashboard'

const { recordStats, listRecords, listNodes, listTasks, toastError } = vi.hoisted(() => ({
  recordStats: vi.fn(),
  listRecords: vi.fn(),
  listNodes: vi.fn(),
  listTasks: vi.fn(),
  toastError: vi.fn(),
}))
vi.mock('@/api/records', () => ({ recordStats, listRecords, getRecord: vi.fn(), getRecordLog: vi.fn() }))
vi.mock('@/api/system', () => ({ listNodes }))
vi.mock('@/api/tasks', () => ({ listTasks }))
vi.mock('@/utils/feedback', () => ({ toastError, toastSuccess: vi.fn(), confirmDanger: vi.fn() }))

const WARNING = 'the rollups of this month are not built yet: these figures were counted from the raw records'

/** `/records/stats` for a month: `counts[date] = [success, failed]`; February 2026 is not rolled up. */
function stats(ym: YearMonth, counts: Record<string, [number, number]> = {}): RecordStats {
  const daily: DailyStat[] = []
  for (let d = 1; d <= new Date(Date.UTC(ym.year, ym.month, 0)).getUTCDate(); d += 1) {
    const date = `${monthKey(ym)}-${String(d).padStart(2, '0')}`
    const [success, failed] = counts[date] ?? [0, 0]
    daily.push({ date, success, failed, total: success + failed })
  }
  return {
    ...ym, total: 0, successCount: 0, failCount: 0, runningCount: 0, killedCount: 0, skippedCount: 0, lostCount: 0,
    successRate: null, avgCostTime: null, p95CostTime: null, daily, topFailingTasks: [], timeZone: 'UTC',
    ...(monthKey(ym) === '2026-02' ? { warning: WARNING } : {}),
  }
}

const COUNTS: Record<string, [number, number]> = {
  '2026-02-24': [50, 50], // eight days before 2026-03-03: outside the window
  '2026-02-25': [6, 2],
  '2026-03-02': [1, 1],
  '2026-03-03': [3, 1],
}

let pinia: Pinia
enableAutoUnmount(afterEach)

function signIn(codes: string[]): void {
  useAuthStore().user = { id: 1, username: 'u', permissions: codes } as unknown as UserInfo
}

const options = (now: string) => ({ zone: () => 'UTC', now: () => new Date(now) })

async function withDashboard(now: string) {
  let state!: ReturnType<typeof useDashboard>
  const Probe = defineComponent({
    setup() {
      state = useDashboard(options(now))
      return () => h('div')
    },
  })
  mount(Probe, { global: { plugins: [pinia, i18n] } })
  await flushPromises()
  return state
}

const statsMonths = () => recordStats.mock.calls.map(([ym]) => monthKey(ym))

describe('dashboard: today and the last 7 days', { timeout: 30_000 }, () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  beforeEach(() => {
    pinia = createPinia()
    setActivePinia(pinia)
    recordStats.mockReset().mockImplementation(async (ym: YearMonth) => stats(ym, COUNTS))
    listRecords.mockReset().mockResolvedValue({ list: [], total: 0, page: 1, size: 100, hasMore: false, nextCursor: null })
    listNodes.mockReset().mockResolvedValue([])
    listTasks.mockReset().mockResolvedValue({ list: [], total: 0, page: 1, size: 1 })
    toastError.mockReset()
  })

  it('mid-month: one /records/stats call serves the month, today and the 7 days', async () => {
    signIn(['record:view'])
    const d = await withDashboard('2026-03-20T08:00:00Z')
    expect(statsMonths()).toEqual(['2026-03'])
    expect(d.recent.value?.today).toMatchObject({ from: '2026-03-20', succeeded: 0, failed: 0, successRate: null })
    expect(d.recent.value?.week).toMatchObject({ from: '2026-03-14', to: '2026-03-20', succeeded: 0 })
    expect(d.warnings.value).toEqual([])
  })

  it('early in the month: the previous month is asked for too, and its warning shown', async () => {
    signIn(['record:view'])
    const d = await withDashboard('2026-03-03T23:30:00Z')
    expect(statsMonths()).toEqual(['2026-03', '2026-02'])
    expect(d.recent.value?.today).toMatchObject({ from: '2026-03-03', succeeded: 3, failed: 1, executions: 4, successRate: 0.75 })
    expect(d.recent.value?.week).toMatchObject({ from: '2026-02-25', to: '2026-03-03', succeeded: 10, failed: 4, successRate: 10 / 14 })
    expect(d.warnings.value).toEqual([{ month: '2026-02', text: WARNING }])
    expect(d.stats.value?.month).toBe(3)
  })

  it('"today" is a date in the platform zone /records/stats names, not the browser\'s', async () => {
    signIn(['record:view'])
    recordStats.mockImplementation(async (ym: YearMonth) => ({ ...stats(ym, COUNTS), timeZone: 'Asia/Shanghai' }))
    // 2026-03-02 18:30 in UTC (the browser's zone here) is already 2026-03-03 02:30 in Shanghai.
    const d = await withDashboard('2026-03-02T18:30:00Z')
    expect(d.recent.value?.today).toMatchObject({ from: '2026-03-03', succeeded: 3, failed: 1 })
    expect(d.recent.value?.week).toMatchObject({ from: '2026-02-25', to: '2026-03-03' })
  })

  it('another month changes the month\'s figures only', async () => {
    signIn(['record:view'])
    const d = await withDashboard('2026-03-03T10:00:00Z')
    const before = d.recent.value
    d.month.value = '2026-02'
    await flushPromises()
    expect(statsMonths()).toEqual(['2026-03', '2026-02', '2026-02'])
    expect(d.stats.value?.month).toBe(2)
    expect(d.recent.value).toBe(before)
    d.month.value = '2026-01'
    await flushPromises()
    expect(statsMonths().slice(3)).toEqual(['2026-01'])
    expect(d.warnings.value.map((w) => w.month)).toEqual(['2026-02']) // still the window's February
  })

  it('"Refresh" asks for the picked month once when the window needs it too', async () => {
    signIn(['record:view'])
    const d = await withDashboard('2026-03-03T10:00:00Z')
    d.month.value = '2026-02'
    await flushPromises()
    recordStats.mockClear()
    await d.load()
    expect(statsMonths().sort()).toEqual(['2026-02', '2026-03'])
    expect(d.stats.value?.month).toBe(2)
    expect(d.recent.value?.week).toMatchObject({ succeeded: 10, failed: 4 })
  })

  it('asks nothing about records without record:view', async () => {
    signIn(['task:view'])
    const d = await withDashboard('2026-03-03T10:00:00Z')
    expect(recordStats).not.toHaveBeenCalled()
    expect(d.recent.value).toBeNull()
  })

  it('renders the two cards and the warning', async () => {
    signIn(['record:view'])
    const router = createRouter({ history: createMemoryHistory(), routes })
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2026-03-03T12:00:00'))
    try {
      const wrapper = mount(DashboardView, {
        global: {
          plugins: [pinia, i18n, router],
          stubs: { MaintenanceBanner: true, SchedulerSwitch: true },
        },
      })
      await flushPromises()
      const text = (id: string) => wrapper.find(`[data-testid="${id}"]`).text()
      expect(text('stat-today')).toContain('Today')
      expect(text('stat-today-rate')).toBe('75.0%')
      expect(text('stat-today-succeeded')).toBe('3')
      expect(text('stat-today-failed')).toBe('1')
      expect(text('stat-week')).toContain('Last 7 days')
      expect(text('stat-week-succeeded')).toBe('10')
      expect(text('stat-week-failed')).toBe('4')
      expect(text('stat-week-rate')).toBe('71.4%')
      const warnings = wrapper.findAll('[data-testid="stats-warning"]')
      expect(warnings).toHaveLength(1)
      expect(warnings[0]?.text()).toContain('The figures of 2026-02 were counted from the raw records')
      expect(warnings[0]?.text()).toContain(WARNING)
      // The charts of the month shown (March 2026): a day group per day, the picked month's executions.
      const days = wrapper.findAll('[data-testid="chart-daily"] [data-testid="chart-day"]')
      expect(days).toHaveLength(31)
      expect(days[2]?.attributes('data-date')).toBe('2026-03-03')
      expect(days.map((d) => d.findAll('rect[data-series]').length).slice(0, 4)).toEqual([0, 2, 2, 0])
      expect(wrapper.get('[data-testid="chart-daily"] svg').attributes('aria-label')).toContain('2026-03-01 to 2026-03-31')
      expect(wrapper.find('[data-testid="chart-status"] svg').exists()).toBe(true)
    } finally {
      vi.useRealTimers()
    }
  })
})
