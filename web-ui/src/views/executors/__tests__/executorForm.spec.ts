import { describe, expect, it } from 'vitest'
import type { Executor } from '@/api/executors'
import {
  addressProblem,
  emptyExecutorForm,
  executorState,
  executorToForm,
  formToCreateInput,
  formToFields,
  identityEditable,
  validateExecutorForm,
} from '../executorForm'

const t = (key: string) => key

const ENTRY: Executor = {
  id: 7, departmentId: 3, departmentName: 'Ops', name: 'orders.Billing', kind: 'grpc', address: '10.20.0.5:50051',
  weight: 2, status: 'up', source: 'self', ttlSeconds: 30, lastHeartbeat: '2026-12-05T10:00:00Z', live: true,
  instances: ['10.20.0.5:50051'], createTime: '2026-12-05T09:00:00Z', updateTime: '2026-12-05T10:00:00Z',
}

describe('executor form', () => {
  it('sends a trimmed create body with the department', () => {
    const form = { ...emptyExecutorForm(3), name: ' orders.Billing ', address: ' dns:///billing.internal:50051 ' }
    expect(formToCreateInput(form)).toEqual({
      departmentId: 3, name: 'orders.Billing', kind: 'grpc', address: 'dns:///billing.internal:50051', weight: 1, status: 'up',
    })
  })

  it('edits only status and weight of a self-registered entry', () => {
    const form = executorToForm(ENTRY)
    expect(identityEditable(form)).toBe(false)
    expect(formToFields({ ...form, weight: 5, status: 'down' })).toEqual({ weight: 5, status: 'down' })
    const manual = executorToForm({ ...ENTRY, source: 'manual' })
    expect(formToFields(manual)).toEqual({ weight: 2, status: 'up', name: 'orders.Billing', kind: 'grpc', address: '10.20.0.5:50051' })
  })

  it('checks what the server checks', () => {
    const bad = { ...emptyExecutorForm(null), name: '10.0.0.5:50051', address: 'grpc://x:1', weight: 101 }
    expect(validateExecutorForm(bad, t)).toEqual({
      departmentId: ['validation.required'],
      name: ['executor.nameIsAddress'],
      address: ['executor.addressGrpc'],
      weight: ['executor.weightRule'],
    })
    expect(validateExecutorForm({ ...emptyExecutorForm(1), name: 'orders Billing', address: 'a:1' }, t)).toEqual({
      name: ['executor.nameRule'],
    })
    expect(validateExecutorForm({ ...emptyExecutorForm(1), name: 'orders.Billing', address: '[::1]:50051' }, t)).toEqual({})
  })

  it('knows the address forms of each kind', () => {
    expect(addressProblem('grpc', '10.0.0.5:50051')).toBeNull()
    expect(addressProblem('grpc', 'billing.internal')).toBe('executor.addressGrpc')
    expect(addressProblem('http', 'https://billing.internal:8443/api')).toBeNull()
    expect(addressProblem('http', 'billing.internal:8443')).toBe('executor.addressHttp')
    expect(addressProblem('http', 'dns:///billing.internal:8080')).toBeNull()
    expect(addressProblem('grpc', 'dns:///billing.internal')).toBe('executor.addressDns')
  })

  it('reads a row as live, drained or expired', () => {
    expect(executorState(ENTRY)).toBe('live')
    expect(executorState({ ...ENTRY, status: 'down', live: false })).toBe('down')
    expect(executorState({ ...ENTRY, live: false })).toBe('expired')
  })
})
