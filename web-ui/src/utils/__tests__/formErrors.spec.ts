import { afterEach, describe, expect, it, vi } from 'vitest'
import { invalidFields, revealFormErrors } from '../formErrors'

function form(html: string): HTMLElement {
  const root = document.createElement('div')
  root.innerHTML = html
  document.body.appendChild(root)
  return root
}

const item = (label: string, error: boolean, input = '<input />') =>
  `<div class="el-form-item${error ? ' is-error' : ''}"><label class="el-form-item__label">${label}</label>${input}</div>`

afterEach(() => {
  document.body.innerHTML = ''
})

describe('revealFormErrors (issue 20, defect 4)', () => {
  it('lists the invalid fields in screen order and focuses the first one', () => {
    const root = form(item('Name', false) + item('Cron', true) + item('URL', true, '<textarea></textarea>'))
    const scroll = vi.fn()
    HTMLElement.prototype.scrollIntoView = scroll
    expect(revealFormErrors(root)).toEqual(['Cron', 'URL'])
    expect(document.activeElement).toBe(root.querySelectorAll('input')[1])
    expect(scroll).toHaveBeenCalledTimes(1)
    expect(scroll.mock.contexts[0]).toBe(root.querySelectorAll('.el-form-item')[1])
  })

  it('scrolls to the banner when no field is marked, and reports nothing', () => {
    const root = form(`<div class="banner"></div>${item('Name', false)}`)
    const scroll = vi.fn()
    HTMLElement.prototype.scrollIntoView = scroll
    expect(revealFormErrors(root, root.querySelector<HTMLElement>('.banner'))).toEqual([])
    expect(scroll.mock.contexts[0]).toBe(root.querySelector('.banner'))
    expect(invalidFields(null)).toEqual([])
  })

  it('skips disabled inputs when focusing and names each field once', () => {
    const root = form(item('Headers', true, '<input disabled /><input class="ok" />') + item('Headers', true))
    HTMLElement.prototype.scrollIntoView = vi.fn()
    expect(revealFormErrors(root)).toEqual(['Headers'])
    expect(document.activeElement).toBe(root.querySelector('input.ok'))
  })
})

describe('revealFormErrors focus', () => {
  it('prefers a text box over a read-only select input before it', () => {
    const root = form(item('URL', true, '<input readonly class="select" /><input class="url" />'))
    HTMLElement.prototype.scrollIntoView = vi.fn()
    revealFormErrors(root)
    expect(document.activeElement).toBe(root.querySelector('input.url'))
  })
})
