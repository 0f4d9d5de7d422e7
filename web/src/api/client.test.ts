import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError, api, errorMessage, getAccessToken, OFFLINE_MESSAGE, refreshSession, setSession } from './client'
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

describe('errorMessage', () => {
  afterEach(() => vi.unstubAllGlobals())

  it('says the server cannot be reached when fetch fails (no raw "Failed to fetch")', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('Failed to fetch')
      }),
    )
    const e = await api('/posts').catch((x: unknown) => x)
    expect(errorMessage(e)).toBe(OFFLINE_MESSAGE)
    expect(errorMessage(new TypeError('NetworkError when attempting to fetch resource.'))).toBe(OFFLINE_MESSAGE)
    expect(errorMessage(new TypeError('Load failed'))).toBe(OFFLINE_MESSAGE)
  })

  it('capitalises the server\'s messages', () => {
    expect(errorMessage(new ApiError(409, 'conflict', 'that username is taken'))).toBe('That username is taken')
    expect(errorMessage(new ApiError(429, 'rate_limited', 'too many failed log-ins; wait before trying again', {}, 30))).toBe(
      'Too many failed log-ins; wait before trying again (try again in 30 s)',
    )
    expect(errorMessage(new Error('export failed (500)'))).toBe('Export failed (500)')
  })

  it('explains a proxy\'s 502 without a body', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' })))
    const e = await api('/posts').catch((x: unknown) => x)
    expect(errorMessage(e)).toMatch(/not answering right now/)
  })
})
