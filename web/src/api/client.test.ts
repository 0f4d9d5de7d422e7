import { afterEach, describe, expect, it, vi } from 'vitest'
import { getAccessToken, refreshSession, setSession } from './client'
import type { Session } from './types'

const session: Session = { access_token: 'tok-1', refresh_token: '', expires_in: 900, token_type: 'Bearer' }

function answer(status: number, body?: unknown) {
  return vi.fn(async () => new Response(body === undefined ? null : JSON.stringify(body), { status }))
}

describe('refreshSession', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    setSession(null)
  })

  it('keeps the session when the refresh fails for a passing reason', async () => {
    setSession(session)
    for (const status of [429, 502, 503]) {
      vi.stubGlobal('fetch', answer(status, { error: { code: 'x', message: 'later' } }))
      expect(await refreshSession()).toBe('tok-1')
      expect(getAccessToken()).toBe('tok-1')
    }
  })

  it('ends the session when the server says it is over', async () => {
    setSession(session)
    vi.stubGlobal('fetch', answer(401, { error: { code: 'unauthorized', message: 'no' } }))
    expect(await refreshSession()).toBeNull()
    expect(getAccessToken()).toBeNull()
  })

  it('takes the new session', async () => {
    setSession(session)
    vi.stubGlobal('fetch', answer(200, { ...session, access_token: 'tok-2' }))
    expect(await refreshSession()).toBe('tok-2')
    expect(getAccessToken()).toBe('tok-2')
  })
})
