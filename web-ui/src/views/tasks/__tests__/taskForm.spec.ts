import { describe, expect, it } from 'vitest'
import type { Task } from '@/api/types'
import {
  emptyTaskForm,
  envRowsError,
  formToRequest,
  formatArgv,
  jsonObjectError,
  taskToForm,
  validateTaskForm,
  childTasksError,
  namesRegistry,
} from '../taskForm'

const defaults = { timezone: 'Asia/Shanghai', departmentId: 3 }

function httpTask(overrides: Partial<Task> = {}): Task {
  return {
    id: 9, name: 'nightly', description: null, departmentId: 3, departmentName: 'Ops', taskType: 'HTTP',
    cron: '0 2 * * *', timezone: 'Europe/Berlin', url: 'https://jobs.example/run', httpMethod: 'POST',
    headers: { 'X-Token': 'abc' }, body: '{"a":1}', fallbackUrl: null, grpcService: null, grpcMethod: null,
    grpcParams: null, fallbackGrpcService: null, fallbackGrpcMethod: null, shellCommand: null, shellArgs: null,
    shellWorkdir: null, shellEnv: null, timeout: 60, retryCount: 2,
    retryInterval: 5, concurrencyPolicy: 'forbid', misfirePolicy: 'fire_once', routeStrategy: 'round_robin', status: 1,
    lastExecuteTime: null, nextExecuteTime: null, version: 4, creatorId: 1, childTaskIds: [],
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
        body: null, fallbackUrl: null, routeStrategy: 'round_robin', childTaskIds: [],
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

  it('refuses task types the console does not know', () => {
    expect(() => taskToForm(httpTask({ taskType: 'PYTHON' as unknown as Task['taskType'] }))).toThrow(/PYTHON/)
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

function shellTask(overrides: Partial<Task> = {}): Task {
  return httpTask({
    taskType: 'SHELL', url: null, httpMethod: 'GET', headers: null, body: null,
    shellCommand: 'sh', shellArgs: ['-c', 'echo "$GREETING" > out.txt', '', '  two  spaces  '],
    shellWorkdir: '/var/lib/jobs', shellEnv: { GREETING: 'hello world', empty: '' }, ...overrides,
  })
}

function shellForm(overrides: Partial<ReturnType<typeof emptyTaskForm>> = {}) {
  return Object.assign(emptyTaskForm('SHELL', defaults), { name: 'backup', shellCommand: '/usr/local/bin/backup' }, overrides)
}

describe('SHELL tasks', () => {
  it('build a body with only SHELL fields: arguments exactly as typed, env as an object, blanks as null', () => {
    const form = shellForm({
      name: ' backup ', shellCommand: '  /usr/local/bin/backup ', shellArgs: ['--db', ' main ', '', 'a b'],
      shellWorkdir: '  ', shellEnv: [{ name: ' MODE ', value: ' full ' }, { name: '', value: '' }],
      url: 'http://ignored/', grpcService: 'ignored:1/a.B', headers: [{ name: 'X-A', value: '1' }],
    })
    const request = formToRequest(form)
    expect(request).toEqual({
      taskType: 'SHELL',
      body: {
        name: 'backup', description: null, departmentId: 3, cron: '0 * * * *', timezone: 'Asia/Shanghai', status: 1,
        timeout: 30, retryCount: 0, retryInterval: 0, concurrencyPolicy: 'allow', misfirePolicy: 'skip',
        shellCommand: '/usr/local/bin/backup', shellArgs: ['--db', ' main ', '', 'a b'], shellWorkdir: null,
        shellEnv: { MODE: ' full ' }, childTaskIds: [],
      },
    })
    for (const key of ['url', 'headers', 'grpcService', 'grpcParams']) expect(Object.keys(request.body)).not.toContain(key)
  })

  it('send no arguments and no environment when there are no rows', () => {
    expect(formToRequest(shellForm()).body).toMatchObject({ shellArgs: [], shellEnv: null, shellWorkdir: null })
    expect(formToRequest(shellForm({ shellWorkdir: ' /srv/jobs ' })).body).toMatchObject({ shellWorkdir: '/srv/jobs' })
  })

  it('never split an argument: a whole script stays one argv element', () => {
    const form = shellForm({ shellCommand: 'sh', shellArgs: ['-c', 'tar czf /backup/db.tgz /var/db && echo done'] })
    expect(formToRequest(form).body).toMatchObject({ shellArgs: ['-c', 'tar czf /backup/db.tgz /var/db && echo done'] })
  })

  it('round-trip through the form, the edit copy of the arguments detached from the task', () => {
    const task = shellTask()
    const form = taskToForm(task)
    expect(form).toMatchObject({
      taskType: 'SHELL', shellCommand: 'sh', shellArgs: ['-c', 'echo "$GREETING" > out.txt', '', '  two  spaces  '],
      shellWorkdir: '/var/lib/jobs',
      shellEnv: [{ name: 'GREETING', value: 'hello world' }, { name: 'empty', value: '' }],
    })
    form.shellArgs.push('extra')
    expect(task.shellArgs).toHaveLength(4)
    form.shellArgs.pop()
    expect(formToRequest(form)).toEqual({
      taskType: 'SHELL',
      body: expect.objectContaining({
        shellCommand: 'sh', shellArgs: ['-c', 'echo "$GREETING" > out.txt', '', '  two  spaces  '],
        shellWorkdir: '/var/lib/jobs', shellEnv: { GREETING: 'hello world', empty: '' }, timezone: 'Europe/Berlin',
      }),
    })
  })

  it('accept a SHELL task without arguments, directory or environment', () => {
    const form = taskToForm(shellTask({ shellCommand: '/bin/true', shellArgs: null, shellWorkdir: null, shellEnv: null }))
    expect(form).toMatchObject({ shellCommand: '/bin/true', shellArgs: [], shellWorkdir: '', shellEnv: [] })
  })

  it('refuse a relative working directory', () => {
    expect(validateTaskForm(shellForm({ shellWorkdir: 'jobs/tmp' }))).toEqual({ shellWorkdir: ['must be an absolute path'] })
    expect(validateTaskForm(shellForm({ shellWorkdir: ' /srv/jobs ' }))).toEqual({})
    expect(validateTaskForm(shellForm({ shellWorkdir: '' }))).toEqual({})
  })

  it('check environment names like the server: identifier syntax, no DJS_ prefix, no duplicates', () => {
    expect(envRowsError([{ name: 'GOOD_1', value: 'x' }, { name: '_x', value: '' }, { name: '', value: '' }])).toBeNull()
    expect(envRowsError([{ name: '1BAD', value: 'x' }])).toBe('invalid variable name "1BAD"')
    expect(envRowsError([{ name: 'A-B', value: 'x' }])).toBe('invalid variable name "A-B"')
    expect(envRowsError([{ name: '', value: 'orphan value' }])).toBe('invalid variable name ""')
    expect(envRowsError([{ name: 'DJS_TASK_ID', value: '1' }])).toBe('variable "DJS_TASK_ID": names DJS_* are set by DJS')
    expect(envRowsError([{ name: 'djs_token', value: '1' }])).toMatch(/names DJS_\* are set by DJS/)
    expect(envRowsError([{ name: 'DJSX', value: '1' }])).toBeNull()
    expect(envRowsError([{ name: 'A', value: '1' }, { name: ' A ', value: '2' }])).toBe('duplicate variable "A"')
    expect(envRowsError([{ name: 'A', value: 'x\u0000y' }])).toMatch(/without NUL/)
    const many = Array.from({ length: 101 }, (_, i) => ({ name: `V${i}`, value: '' }))
    expect(envRowsError(many)).toBe('at most 100 variables')
    expect(validateTaskForm(shellForm({ shellEnv: [{ name: 'DJS_X', value: '1' }] }))).toEqual({
      shellEnv: ['variable "DJS_X": names DJS_* are set by DJS'],
    })
  })

  it('check command and argument limits and NUL characters', () => {
    expect(validateTaskForm(shellForm({ shellCommand: 'a\u0000b' }))).toEqual({
      shellCommand: ['the command must not contain NUL characters'],
    })
    expect(validateTaskForm(shellForm({ shellCommand: 'x'.repeat(1025) }))).toEqual({ shellCommand: ['at most 1024 characters'] })
    expect(validateTaskForm(shellForm({ shellArgs: Array.from({ length: 201 }, () => 'a') }))).toEqual({
      shellArgs: ['at most 200 arguments'],
    })
    expect(validateTaskForm(shellForm({ shellArgs: ['ok', 'bad\u0000'] }))).toEqual({
      shellArgs: ['argument 2 must be at most 8192 characters, without NUL characters'],
    })
    expect(validateTaskForm(shellForm({ shellArgs: Array.from({ length: 200 }, () => '') }))).toEqual({})
  })

  it('leave HTTP and gRPC checks out of a SHELL form', () => {
    expect(validateTaskForm(shellForm({ headers: [{ name: 'Bad Name', value: '' }], grpcParams: '[1]' }))).toEqual({})
  })
})

describe('formatArgv', () => {
  it('shows argv on one line, quoting only what a shell would split or expand', () => {
    expect(formatArgv(['/usr/bin/backup', '--db=main', '-v'])).toBe('/usr/bin/backup --db=main -v')
    expect(formatArgv(['sh', '-c', 'echo "$HOME" > out'])).toBe(`sh -c 'echo "$HOME" > out'`)
    expect(formatArgv(['echo', "it's", '', ' '])).toBe(`echo 'it'\\''s' '' ' '`)
  })
})

describe('child tasks', () => {
  it('round-trip in order, the edit copy detached from the task, for every task type', () => {
    const task = httpTask({ childTaskIds: [12, 7] })
    const form = taskToForm(task)
    expect(form.childTaskIds).toEqual([12, 7])
    form.childTaskIds.push(3)
    expect(task.childTaskIds).toEqual([12, 7])
    expect(formToRequest(form).body).toMatchObject({ childTaskIds: [12, 7, 3] })
    const grpc = Object.assign(emptyTaskForm('GRPC', defaults), { name: 'g', grpcService: 'h:1/a.B', grpcMethod: 'M', childTaskIds: [5] })
    expect(formToRequest(grpc).body).toMatchObject({ childTaskIds: [5] })
    const shell = Object.assign(emptyTaskForm('SHELL', defaults), { name: 's', shellCommand: 'true', childTaskIds: [] })
    expect(formToRequest(shell).body).toMatchObject({ childTaskIds: [] })
  })

  it('refuse the task itself, duplicates and more than 20 before sending', () => {
    const form = emptyTaskForm('HTTP', defaults)
    form.childTaskIds = [9]
    expect(validateTaskForm(form, 9)).toEqual({ childTaskIds: ['a task cannot be its own child'] })
    expect(childTasksError(form, null)).toBeNull()
    form.childTaskIds = [4, 4]
    expect(childTasksError(form, 9)).toBe('lists a task more than once')
    form.childTaskIds = Array.from({ length: 21 }, (_, i) => i + 1)
    expect(childTasksError(form, null)).toBe('at most 20 child tasks')
  })
})

describe('namesRegistry', () => {
  it('tells a registry name from an address, per task type', () => {
    expect(namesRegistry('HTTP', ' executor://billing/run ')).toBe(true)
    expect(namesRegistry('HTTP', 'https://billing/run')).toBe(false)
    expect(namesRegistry('GRPC', 'orders.Billing')).toBe(true)
    expect(namesRegistry('GRPC', '10.0.0.5:50051/orders.Billing')).toBe(false)
    expect(namesRegistry('GRPC', '')).toBe(false)
    expect(namesRegistry('SHELL', 'orders.Billing')).toBe(false)
  })

  it('sends the route strategy with HTTP and gRPC tasks', () => {
    const form = Object.assign(emptyTaskForm('GRPC', defaults), {
      name: 'bill', grpcService: 'orders.Billing', grpcMethod: 'Charge', routeStrategy: 'failover',
    })
    expect(formToRequest(form).body).toMatchObject({ grpcService: 'orders.Billing', routeStrategy: 'failover' })
  })
})
