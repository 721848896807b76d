import { describe, expect, it } from 'vitest'
import { i18n, setLocale } from '@/i18n'
import { AUDIT_ACTIONS, actionLabel, changeRows, hasChanges } from '../auditChanges'

const t = (key: string) => i18n.global.t(key)
const te = (key: string) => i18n.global.te(key)

describe('audit log helpers (issue 20, defect 10)', () => {
  it('does not expand rows without changes', () => {
    expect(hasChanges(null)).toBe(false)
    expect(hasChanges(undefined)).toBe(false)
    expect(hasChanges({})).toBe(false)
    expect(hasChanges([])).toBe(false)
    expect(hasChanges({ name: 'x' })).toBe(true)
  })

  it('shows labels instead of codes in diffs', async () => {
    await setLocale('en')
    expect(changeRows({ objectType: 'task', changes: { status: { old: 1, new: 0 } } }, t, te)).toEqual([
      { field: 'status', old: 'Enabled', new: 'Disabled' },
    ])
    expect(changeRows({ objectType: 'task', changes: { status: { old: 0, new: 2 }, misfirePolicy: { old: 'skip', new: 'fire_all' } } }, t, te))
      .toEqual([
        { field: 'status', old: 'Disabled', new: 'One-shot' },
        { field: 'misfirePolicy', old: 'Skip to the next time', new: 'Run each missed time' },
      ])
    expect(changeRows({ objectType: 'department', changes: { name: 'Ops', status: 1, parentId: null } }, t, te)).toEqual([
      { field: 'name', value: 'Ops' }, { field: 'status', value: 'Enabled' }, { field: 'parentId', value: '-' },
    ])
    expect(changeRows({ objectType: 'scheduler', changes: { paused: { old: false, new: true } } }, t, te)).toEqual([
      { field: 'paused', old: 'No', new: 'Yes' },
    ])
    expect(changeRows({ objectType: 'task', changes: { overrides: ['body'] } }, t, te)).toEqual([
      { field: 'overrides', value: '["body"]' },
    ])
    expect(changeRows({ objectType: 'task', changes: null }, t, te)).toEqual([])
    await setLocale('zh-CN')
    expect(changeRows({ objectType: 'task', changes: { status: { old: 1, new: 0 } } }, t, te)[0]?.new).toMatch(/[\u4e00-\u9fff]/)
    await setLocale('en')
  })

  it('labels every known action in both languages, and falls back to the server label or the code', async () => {
    for (const locale of ['en', 'zh-CN'] as const) {
      await setLocale(locale)
      for (const code of AUDIT_ACTIONS) {
        const label = actionLabel(code, undefined, t, te)
        expect(label, `${locale} ${code}`).not.toBe(code)
        if (locale === 'zh-CN') expect(label).toMatch(/[\u4e00-\u9fff]/)
      }
    }
    await setLocale('en')
    expect(actionLabel('task.kill', 'server', t, te)).toBe('Killed task')
    expect(actionLabel('future.thing', 'Server label', t, te)).toBe('Server label')
    expect(actionLabel('future.thing', undefined, t, te)).toBe('future.thing')
  })
})
