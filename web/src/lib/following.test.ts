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

  it('drops the notes of a failed read: a follow during it and an unfollow after it stay an unfollow', async () => {
    let fail = true
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => (fail ? new Response('{"error":"unavailable"}', { status: 503 }) : new Response(JSON.stringify({ items: [profile('1')], next_cursor: null }), { status: 200 }))),
    )
    const p = loadFollowing('amy')
    noteFollow('9', true) // while the read is on its way
    await p // fails
    expect(isFollowed('9')).toBe(true)
    noteFollow('9', false) // after it
    expect(isFollowed('9')).toBe(false)
    fail = false
    await loadFollowing('amy') // read again: the failed one set no time
    expect(isFollowed('1')).toBe(true)
    expect(isFollowed('9')).toBe(false)
  })

  it('drops the notes of a read once it is in: an older note is not replayed on a later read', async () => {
    let items = ['1']
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ items: items.map(profile), next_cursor: null }), { status: 200 })))
    const p = loadFollowing('amy')
    noteFollow('9', true)
    await p
    noteFollow('9', false)
    items = ['1']
    await loadFollowing('amy', Date.now() + STALE_MS + 1)
    expect(isFollowed('9')).toBe(false)
  })

  it('keeps each read\'s notes to itself: a read for a user signed out of does not take the next one\'s', async () => {
    // Answers the test hands out one by one.
    const waiting: ((items: string[]) => void)[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(() => new Promise<Response>((r) => waiting.push((items) => r(new Response(JSON.stringify({ items: items.map(profile), next_cursor: null }), { status: 200 }))))),
    )
    const amy = loadFollowing('amy')
    await vi.waitFor(() => expect(waiting).toHaveLength(1))
    forgetFollowing() // amy logs out, ben logs in
    const ben = loadFollowing('ben')
    await vi.waitFor(() => expect(waiting).toHaveLength(2))
    noteFollow('7', true) // ben follows 7 while his read is on its way
    waiting[0](['1']) // amy's read ends first
    await amy
    expect(isFollowed('1')).toBe(false) // not ben's
    expect(isFollowed('7')).toBe(true)
    waiting[1](['2']) // ben's, read before his follow
    await ben
    expect(isFollowed('2')).toBe(true)
    expect(isFollowed('7')).toBe(true)
  })
})
