import { beforeAll, describe, expect, it } from 'vitest'
import type { AlertPolicy } from '@/api/types'
import { i18n, setLocale } from '@/i18n'
import {
  channelParts,
  conditionParts,
  deliverySummary,
  emptyPolicyForm,
  formToCreateInput,
  formToFields,
  parseEmails,
  policyPermission,
  policyToForm,
  secretChange,
  validatePolicyForm,
} from '../alertPolicy'

const t = (key: string, params?: Record<string, unknown>) => i18n.global.t(key, params ?? {})

function policy(overrides: Partial<AlertPolicy> = {}): AlertPolicy {
  return {
    id: 5, departmentId: 2, departmentName: 'Ops', taskId: 9, taskName: 'nightly', enabled: true, onFailure: true,
    consecutiveFailures: 3, autoPause: true, overrunSeconds: 600, lagSeconds: null, webhookUrl: 'https://hooks.example/a',
    hasWebhookSecret: true, emails: ['a@example.com', 'b@example.com'], cooldownSeconds: null,
    createTime: '2026-01-01T00:00:00Z', updateTime: '2026-01-01T00:00:00Z', ...overrides,
  }
}

describe('policy form', () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  it('builds the create body for a task or a department with blanks as null', () => {
    const form = emptyPolicyForm('task', { taskId: 9, departmentId: 2 })
    Object.assign(form, { webhookUrl: '  http://127.0.0.1:8080/hook ', emails: '', overrunSeconds: undefined })
    expect(formToCreateInput(form)).toEqual({
      taskId: 9, enabled: true, onFailure: true, consecutiveFailures: 0, autoPause: false, overrunSeconds: null,
      lagSeconds: null, webhookUrl: 'http://127.0.0.1:8080/hook', emails: null, cooldownSeconds: null,
    })
    form.scope = 'department'
    const body = formToCreateInput(form)
    expect(body.departmentId).toBe(2)
    expect('taskId' in body).toBe(false)
  })

  it('splits e-mail addresses on commas, semicolons, spaces and lines', () => {
    expect(parseEmails(' a@x.io, b@x.io;c@x.io\n\n d@x.io ')).toEqual(['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io'])
    expect(parseEmails('  ')).toEqual([])
  })

  it('round-trips a policy and keeps, replaces or removes the write-only secret', () => {
    const form = policyToForm(policy())
    expect(form).toMatchObject({ id: 5, scope: 'task', hasWebhookSecret: true, webhookSecret: '', emails: 'a@example.com\nb@example.com' })
    expect(secretChange(form)).toBe('keep')
    expect('webhookSecret' in formToFields(form)).toBe(false)
    expect(formToFields(form)).toMatchObject({ emails: ['a@example.com', 'b@example.com'], consecutiveFailures: 3, autoPause: true })

    form.clearSecret = true
    expect(secretChange(form)).toBe('clear')
    expect(formToFields(form).webhookSecret).toBe('')

    form.webhookSecret = ' s3cret ' // sent exactly as typed
    expect(secretChange(form)).toBe('set')
    expect(formToFields(form).webhookSecret).toBe(' s3cret ')
  })

  it('never sends auto-pause without a failure streak', () => {
    const form = policyToForm(policy({ consecutiveFailures: 0, autoPause: false }))
    form.autoPause = true
    expect(formToFields(form).autoPause).toBe(false)
    expect(validatePolicyForm(form, t).autoPause).toEqual(['needs failures in a row'])
  })

  it('asks for a channel, a condition and a scope like the server does', () => {
    const form = emptyPolicyForm('task')
    form.onFailure = false
    const errors = validatePolicyForm(form, t)
    expect(errors.taskId).toEqual(['Required'])
    expect(errors.webhookUrl).toEqual(['give a webhook URL or at least one e-mail address'])
    expect(errors.onFailure).toEqual(['turn on at least one condition'])
    form.taskId = 1
    form.lagSeconds = 30
    form.emails = 'ops@example.com'
    expect(validatePolicyForm(form, t)).toEqual({})
  })

  it('checks ranges, the URL scheme and the addresses', () => {
    const form = emptyPolicyForm('department', { departmentId: 1 })
    Object.assign(form, { webhookUrl: 'ftp://x', overrunSeconds: 0, lagSeconds: 86401, cooldownSeconds: -1, consecutiveFailures: 1001 })
    expect(validatePolicyForm(form, t)).toEqual({
      webhookUrl: ['must be an http:// or https:// URL'],
      overrunSeconds: ['from 1 to 604800'],
      lagSeconds: ['from 1 to 86400'],
      cooldownSeconds: ['from 0 to 86400'],
      consecutiveFailures: ['from 0 to 1000'],
    })
    Object.assign(form, { webhookUrl: '', overrunSeconds: null, lagSeconds: null, cooldownSeconds: 0, consecutiveFailures: 0 })
    form.emails = 'a@example.com, not-an-address'
    expect(validatePolicyForm(form, t).emails).toEqual(['not-an-address is not an e-mail address'])
    form.emails = 'a@example.com A@example.com'
    expect(validatePolicyForm(form, t).emails).toEqual(['lists an address more than once'])
    form.emails = Array.from({ length: 21 }, (_, i) => `u${i}@example.com`).join(',')
    expect(validatePolicyForm(form, t).emails).toEqual(['at most 20 addresses'])
  })
})

describe('policy summaries', () => {
  beforeAll(async () => {
    await setLocale('en')
  })

  it('describe conditions and channels', () => {
    const text = (parts: { key: string; params?: Record<string, unknown> }[]) => parts.map((p) => t(p.key, p.params))
    expect(text(conditionParts(policy()))).toEqual([
      'a run fails (after its retries)',
      '3 failures in a row, then the task is disabled',
      'a run is still going after 600 s',
    ])
    expect(text(channelParts(policy()))).toEqual([
      'Webhook https://hooks.example/a (signed)',
      'E-mail to 2 address(es): a@example.com, b@example.com',
    ])
    expect(text(channelParts(policy({ webhookUrl: null, emails: null })))).toEqual([])
  })

  it('name the permission a write needs', () => {
    expect(policyPermission(policy())).toBe('task:update')
    expect(policyPermission(policy({ taskId: null, taskName: null }))).toBe('department:manage')
    expect(policyPermission({ scope: 'department' })).toBe('department:manage')
  })

  it('count delivered channels', () => {
    expect(deliverySummary({ deliveries: null })).toEqual({ ok: 0, total: 0 })
    expect(deliverySummary({
      deliveries: [
        { channel: 'webhook', target: 'http://x', ok: true, statusCode: 200, error: null },
        { channel: 'email', target: 'a@example.com', ok: false, statusCode: null, error: 'refused' },
      ],
    })).toEqual({ ok: 1, total: 2 })
  })
})
