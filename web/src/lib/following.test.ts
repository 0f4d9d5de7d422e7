import { afterEach, describe, expect, it, vi } from 'vitest'
import { forgetFollowing, isFollowed, loadFollowing, noteFollow, STALE_MS } from './following'

function profile(id: string) {
  return { id, username: 'u' + id, display_name: 'U', about: '', country: '', city: '', photo_url: null, followers_count: 0, following_count: 0, created_at: '' }
}

function server(pages: string[][]) {
  const calls: string[] = []
  const fetch = vi.fn(async (url: string) => {
    calls.push(url)
    const cursor = new URL(url, 'http://x').searchParams.get('cursor')
    const i = cursor ? Number(cursor) : 0
    return new Response(JSON.stringify({ items: pages[i].map(profile), next_cursor: i + 1 < pages.length ? String(i + 1) : null }), { status: 200 })
  })
  vi.stubGlobal('fetch', fetch)
  return calls
}

afterEach(() => {
  vi.unstubAllGlobals()
  forgetFollowing()
})

describe('following', () => {
  it('reads every page once per session, and knows whom the user follows', async () => {
    const calls = server([['1', '2'], ['3']])
    const ids = await loadFollowing('amy')
    expect([...ids].sort()).toEqual(['1', '2', '3'])
    expect(calls).toHaveLength(2)
    expect(calls[0]).toContain('/api/v1/profiles/amy/following')
    expect(isFollowed('3')).toBe(true)
    expect(isFollowed('4')).toBe(false)
    await loadFollowing('amy')
    expect(calls).toHaveLength(2) // not again
  })

  it('takes follows and unfollows done in this tab without a new read', async () => {
    const calls = server([['1']])
    await loadFollowing('amy')
    noteFollow('5', true)
    noteFollow('1', false)
    expect(isFollowed('5')).toBe(true)
    expect(isFollowed('1')).toBe(false)
    await loadFollowing('amy')
    expect(calls).toHaveLength(1)
  })

  it('reads again for another user, or after a while', async () => {
    const calls = server([['1']])
    await loadFollowing('amy')
    await loadFollowing('ben')
    expect(calls).toHaveLength(2)
    await loadFollowing('ben', Date.now() + STALE_MS + 1)
    expect(calls).toHaveLength(3)
  })

  it('keeps a follow noted while the read is on its way', async () => {
    server([['1']])
    const p = loadFollowing('amy')
    noteFollow('9', true)
    await p
    expect(isFollowed('9')).toBe(true)
    expect(isFollowed('1')).toBe(true)
  })
})
