// A post culled while its page is open: what the live status message gives
// the banner at once, and when the page must read the post again.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { applyPostEvent } from './merge'
import { needsCullDetail } from '../lib/cull'
import { Reread } from './postWatch'
import { api } from '../api/client'
import { getPost, putPost, updatePost } from '../lib/postStore'
import { makePost } from '../test/fixtures'

// The server's status message for a culled post (realtime/bridge.go).
const culledMsg = (id: string, statsVersion: number) => ({
  ch: `post:${id}`,
  type: 'status',
  v: 9,
  data: { id, status: 'culled', run: '31', stats_version: statsVersion },
})

describe('a post culled while its page is open', () => {
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  it('links the banner to the run at once, and asks for the rank and time', () => {
    const before = makePost({ id: '500', stats_version: 4, ranks: { hot: 90 } })
    const r = applyPostEvent(before, culledMsg('500', 5))
    expect(r.post.status).toBe('culled')
    expect(r.post.culled).toEqual({ run_id: '31' })
    expect(r.post.stats_version).toBe(5)
    expect(needsCullDetail(before, r.post)).toBe(true)
  })

  it('does not ask again once the post says where it fell, nor for a post culled before the page opened', () => {
    const culled = makePost({ status: 'culled', culled: { run_id: '31', cycle: 9, rank: 118, at: '2026-01-01T00:00:00Z' } })
    expect(needsCullDetail({ status: 'ready' }, culled)).toBe(false)
    expect(needsCullDetail({ status: 'culled' }, { status: 'culled', culled: { run_id: '31' } })).toBe(false)
    expect(needsCullDetail({ status: 'ready' }, { status: 'removed' })).toBe(false)
    expect(needsCullDetail({ status: 'ready' }, { status: 'ready' })).toBe(false)
    // A snapshot after a reconnection (the post was culled meanwhile) lacks them too.
    expect(needsCullDetail({ status: 'ready' }, { status: 'culled' })).toBe(true)
  })

  it('reads the post again (GET /posts/{id}) and the banner gets the rank, the time and the run', async () => {
    vi.useFakeTimers()
    const fetch = vi.fn(
      async () =>
        new Response(
          JSON.stringify(
            makePost({ id: '501', status: 'culled', stats_version: 5, ranks: {}, culled: { run_id: '31', cycle: 9, rank: 118, at: '2026-01-01T00:00:00Z' } }),
          ),
          { status: 200 },
        ),
    )
    vi.stubGlobal('fetch', fetch)
    putPost(makePost({ id: '501', stats_version: 4, ranks: { hot: 118 } }))
    const reread = new Reread(async () => putPost(await api('/posts/501')), { delayMs: 500, jitterMs: 2500, random: () => 0 })
    // What the post page does with the message (PostPage.tsx).
    const before = getPost('501')
    updatePost('501', (p) => applyPostEvent(p, culledMsg('501', 5)).post)
    expect(getPost('501')!.culled).toEqual({ run_id: '31' })
    expect(getPost('501')!.ranks).toEqual({})
    if (needsCullDetail(before, getPost('501'))) reread.request()
    await vi.advanceTimersByTimeAsync(600)
    expect(fetch).toHaveBeenCalledTimes(1)
    expect(String((fetch.mock.calls[0] as unknown[])[0])).toBe('/api/v1/posts/501')
    expect(getPost('501')!.culled).toEqual({ run_id: '31', cycle: 9, rank: 118, at: '2026-01-01T00:00:00Z' })
    expect(getPost('501')!.status).toBe('culled')
  })
})
