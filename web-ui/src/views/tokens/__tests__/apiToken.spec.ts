import { describe, expect, it } from 'vitest'
import { emptyTokenForm, EXPIRY_CHOICES, stateTagType, tokenFormToInput } from '../apiToken'

describe('tokenFormToInput', () => {
  it('sends the trimmed name and the chosen number of days', () => {
    expect(tokenFormToInput({ name: '  orders sidecar ', expiry: 30, customDays: undefined })).toEqual({
      name: 'orders sidecar',
      expiresInDays: 30,
    })
  })

  it('leaves the expiry out for a token that never expires', () => {
    expect(tokenFormToInput({ name: 'ci', expiry: 'never', customDays: 12 })).toEqual({ name: 'ci' })
  })

  it('sends a typed number of days as it is (the server checks 1-3650; the form requires a number)', () => {
    expect(tokenFormToInput({ name: 'ci', expiry: 'custom', customDays: 4000 })).toEqual({ name: 'ci', expiresInDays: 4000 })
    expect(tokenFormToInput({ name: 'ci', expiry: 'custom', customDays: undefined })).toEqual({ name: 'ci' })
  })

  it('starts from 90 days, one of the offered choices', () => {
    const form = emptyTokenForm()
    expect(EXPIRY_CHOICES).toContain(form.expiry)
    expect(tokenFormToInput({ ...form, name: 'x' })).toEqual({ name: 'x', expiresInDays: 90 })
  })
})

describe('stateTagType', () => {
  it('colours active, expired and revoked tokens apart', () => {
    expect([stateTagType('active'), stateTagType('expired'), stateTagType('revoked')]).toEqual(['success', 'warning', 'info'])
  })
})
