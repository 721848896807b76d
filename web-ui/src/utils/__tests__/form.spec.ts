import { describe, expect, it } from 'vitest'
import { nextTick, reactive } from 'vue'
import { ApiError } from '@/api/http'
import { mapFieldErrors, useFieldErrors } from '../form'

const PROPS = ['name', 'cron', 'headers', 'grpcParams', 'departmentId'] as const

describe('mapFieldErrors', () => {
  it('puts each server field on the form item of the same name', () => {
    const mapped = mapFieldErrors({ name: ['This field may not be blank.'], cron: ['expected 5 or 6 fields', 'got 3'] }, PROPS)
    expect(mapped.byProp).toEqual({ name: 'This field may not be blank.', cron: 'expected 5 or 6 fields; got 3' })
    expect(mapped.unmatched).toEqual([])
  })

  it('maps nested keys (headers.X, list[0]) onto their base field', () => {
    const mapped = mapFieldErrors({ 'headers.X-Token': ['bad'], 'grpcParams[0].id': ['wrong'] }, PROPS)
    expect(mapped.byProp).toEqual({ headers: 'bad', grpcParams: 'wrong' })
  })

  it('applies aliases for server names that differ from form props', () => {
    const mapped = mapFieldErrors({ parentId: ['not in your scope'] }, PROPS, { parentId: 'departmentId' })
    expect(mapped.byProp).toEqual({ departmentId: 'not in your scope' })
  })

  it('returns what has no form item: non-field errors and unknown keys', () => {
    const mapped = mapFieldErrors({ non_field_errors: ['time window is empty'], version: ['unknown field'] }, PROPS)
    expect(mapped.byProp).toEqual({})
    expect(mapped.unmatched).toEqual(['time window is empty', 'version: unknown field'])
  })
})

describe('useFieldErrors', () => {
  it('fills reactive errors from an ApiError 4001 and clears them on the next apply', () => {
    const { errors, apply } = useFieldErrors(PROPS)
    const unmatched = apply(new ApiError(4001, 'cron: bad', 400, { cron: ['bad'], extra: ['x'] }))
    expect({ ...errors }).toEqual({ cron: 'bad' })
    expect(unmatched).toEqual(['extra: x'])
    expect(apply(new ApiError(4009, 'duplicate', 409))).toBeNull()
    expect({ ...errors }).toEqual({})
  })

  it('drops a field error once the user changes that field', async () => {
    const form = reactive({ name: 'x', cron: '61 * * * *' })
    const { errors, apply } = useFieldErrors(PROPS, {}, form)
    apply(new ApiError(4001, 'bad', 400, { name: ['taken'], cron: ['out of range'] }))
    form.cron = '*/5 * * * *'
    await nextTick()
    expect({ ...errors }).toEqual({ name: 'taken' })
  })

  it('ignores errors that are not API field errors', () => {
    const { errors, apply } = useFieldErrors(PROPS)
    expect(apply(new Error('boom'))).toBeNull()
    expect({ ...errors }).toEqual({})
  })
})
