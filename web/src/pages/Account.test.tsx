import { describe, expect, it } from 'vitest'
import { renderToStaticMarkup } from 'react-dom/server'
import { Field, loginFailure, waitText } from './Account'
import { ApiError } from '../api/client'

describe('Field', () => {
  it('links the input to its error, says it is invalid, and capitalises the message', () => {
    const html = renderToStaticMarkup(
      <Field id="email" label="E-mail" error="already registered">
        <input id="email" />
      </Field>,
    )
    expect(html).toContain('aria-describedby="email-error"')
    expect(html).toContain('aria-invalid="true"')
    expect(html).toContain('id="email-error"')
    expect(html).toContain('>Already registered<')
  })

  it('links the input to its hint when there is no error', () => {
    const html = renderToStaticMarkup(
      <Field id="username" label="Username" hint="3 to 30 letters">
        <input id="username" aria-describedby="other" />
      </Field>,
    )
    expect(html).toContain('aria-describedby="other username-hint"')
    expect(html).toContain('id="username-hint"')
    expect(html).not.toContain('aria-invalid="true"')
  })
})

describe('loginFailure', () => {
  it('waits as long as the server says after too many failed log-ins', () => {
    const f = loginFailure(new ApiError(429, 'rate_limited', 'too many failed log-ins; wait before trying again', {}, 42))
    expect(f).toEqual({ text: 'Too many failed log-ins.', waitSeconds: 42 })
  })
  it('says a wrong password plainly', () => {
    expect(loginFailure(new ApiError(401, 'unauthorized', 'invalid credentials'))).toEqual({ text: 'Wrong username, e-mail address or password.', waitSeconds: null })
  })
  it('formats the wait', () => {
    expect(waitText(42)).toBe('42 s')
    expect(waitText(125)).toBe('2 min 05 s')
    expect(waitText(-3)).toBe('0 s')
  })
})
