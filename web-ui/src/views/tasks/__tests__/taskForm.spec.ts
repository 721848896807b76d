import { describe, expect, it } from 'vitest'
import type { Task } from '@/api/types'
import { emptyTaskForm, formToRequest, jsonObjectError, taskToForm, validateTaskForm } from '../taskForm'

const defaults = { timezone: 'Asia/Shanghai', departmentId: 3 }

function httpTask(overrides: Partial<Task> = {}): Task {
  return {
    id: 9, name: 'nightly', description: null, departmentId: 3, departmentName: 'Ops', taskType: 'HTTP',
    cron: '0 2 * * *', timezone: 'Europe/Berlin', url: 'https://jobs.example/run', httpMethod: 'POST',
    headers: { 'X-Token': 'abc' }, body: '{"a":1}', fallbackUrl: null, grpcService: null, grpcMethod: null,
    grpcParams: null, fallbackGrpcService: null, fallbackGrpcMethod: null, timeout: 60, retryCount: 2,
    retryInterval: 5, concurrencyPolicy: 'forbid', misfirePolicy: 'fire_once', status: 1,
    lastExecuteTime: null, nextExecuteTime: null, version: 4, creatorId: 1,
    createTime: '2026-01-01T00:00:00Z', updateTime: '2026-01-01T00:00:00Z', ...overrides,
  }
}

describe('formToRequest', () => {
  it('builds the HTTP body with only HTTP fields, headers as an object and blanks as null', () => {
    const form = emptyTaskForm('HTTP', defaults)
    Object.assign(form, {
      name: '  ping  ', cron: ' */5 * * * * ', url: ' http://127.0.0.1:8080/ping ', httpMethod: 'PUT',
      headers: [{ name: 'X-A', value: '1' }, { name: ' ', value: '' }, { name: 'X-B', value: 'two words' }],
      body: '', fallbackUrl: '  ', description: '', grpcService: 'ignored:1/a.B',
    })
    const request = formToRequest(form)
    expect(request).toEqual({
      taskType: 'HTTP',
      body: {
        name: 'ping', description: null, departmentId: 3, cron: '*/5 * * * *', timezone: 'Asia/Shanghai',
        status: 1, timeout: 30, retryCount: 0, retryInterval: 0, concurrencyPolicy: 'allow', misfirePolicy: 'skip',
        url: 'http://127.0.0.1:8080/ping', httpMethod: 'PUT', headers: { 'X-A': '1', 'X-B': 'two words' },
        body: null, fallbackUrl: null,
      },
    })
    expect(Object.keys(request.body)).not.toContain('grpcService')
  })

  it('sends an HTTP body exactly as typed, whitespace included', () => {
    const form = Object.assign(emptyTaskForm('HTTP', defaults), { name: 'n', url: 'http://x/', body: '  {"a": 1}\n' })
    expect(formToRequest(form).body).toMatchObject({ body: '  {"a": 1}\n', headers: null })
  })

  it('builds the gRPC body with parsed params and only gRPC fields', () => {
    const form = emptyTaskForm('GRPC', defaults)
    Object.assign(form, {
      name: 'bill', grpcService: '10.0.0.5:50051/orders.Billing', grpcMethod: 'Charge', grpcParams: '{"day": "today"}',
      fallbackGrpcService: '', fallbackGrpcMethod: '', url: 'http://ignored/', status: 2,
    })
    const request = formToRequest(form)
    expect(request.taskType).toBe('GRPC')
    expect(request.body).toMatchObject({
      name: 'bill', grpcService: '10.0.0.5:50051/orders.Billing', grpcMethod: 'Charge', grpcParams: { day: 'today' },
      fallbackGrpcService: null, fallbackGrpcMethod: null, status: 2,
    })
    expect(Object.keys(request.body)).not.toContain('url')
    expect(Object.keys(request.body)).not.toContain('headers')
  })

  it('sends no params when the JSON box is empty', () => {
    const form = Object.assign(emptyTaskForm('GRPC', defaults), { name: 'n', grpcService: 'h:1/a.B', grpcMethod: 'M' })
    expect(formToRequest(form).body).toMatchObject({ grpcParams: null })
  })
})

describe('taskToForm', () => {
  it('round-trips an HTTP task through the form', () => {
    const form = taskToForm(httpTask())
    expect(form).toMatchObject({ taskType: 'HTTP', timezone: 'Europe/Berlin', headers: [{ name: 'X-Token', value: 'abc' }] })
    const { body } = formToRequest(form)
    expect(body).toMatchObject({
      name: 'nightly', cron: '0 2 * * *', timezone: 'Europe/Berlin', url: 'https://jobs.example/run', httpMethod: 'POST',
      headers: { 'X-Token': 'abc' }, body: '{"a":1}', timeout: 60, retryCount: 2, retryInterval: 5,
      concurrencyPolicy: 'forbid', misfirePolicy: 'fire_once', status: 1, departmentId: 3,
    })
  })

  it('pretty-prints gRPC params for editing', () => {
    const form = taskToForm(httpTask({ taskType: 'GRPC', url: null, grpcService: 'h:1/a.B', grpcMethod: 'M', grpcParams: '{"a":{"b":1}}' }))
    expect(form.grpcParams).toBe('{\n  "a": {\n    "b": 1\n  }\n}')
    expect(taskToForm(httpTask({ taskType: 'GRPC', grpcParams: '{}' })).grpcParams).toBe('')
  })

  it('refuses task types the console cannot edit', () => {
    expect(() => taskToForm(httpTask({ taskType: 'SHELL' }))).toThrow(/SHELL/)
  })
})

describe('validateTaskForm', () => {
  it('flags invalid and duplicate header names on the headers field', () => {
    const form = emptyTaskForm('HTTP', defaults)
    form.headers = [{ name: 'Bad Name', value: 'x' }]
    expect(validateTaskForm(form)).toEqual({ headers: ['invalid header name "Bad Name"'] })
    form.headers = [{ name: 'X-A', value: '1' }, { name: 'x-a', value: '2' }]
    expect(validateTaskForm(form)).toEqual({ headers: ['duplicate header "x-a"'] })
    form.headers = [{ name: 'X-A', value: '1' }, { name: '', value: '' }]
    expect(validateTaskForm(form)).toEqual({})
  })

  it('requires gRPC params to be a JSON object and a fallback service with a fallback method', () => {
    const form = emptyTaskForm('GRPC', defaults)
    form.grpcParams = '[1, 2]'
    form.fallbackGrpcMethod = 'Other'
    expect(validateTaskForm(form)).toEqual({
      grpcParams: ['must be a JSON object'],
      fallbackGrpcService: ['required when fallbackGrpcMethod is set'],
    })
  })

  it('jsonObjectError explains broken JSON and accepts empty text', () => {
    expect(jsonObjectError('')).toBeNull()
    expect(jsonObjectError('{"a": 1}')).toBeNull()
    expect(jsonObjectError('{a: 1}')).toMatch(/^invalid JSON/)
    expect(jsonObjectError('null')).toBe('must be a JSON object')
  })
})
