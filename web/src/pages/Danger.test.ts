import { afterEach, describe, expect, it, vi } from 'vitest'
import { heardRiskPost, readCull, readRisk, riskIds, riskLine, zoneMayHaveChanged, zoneReread } from './Danger'
import type { Post } from '../api/types'
import { makePost } from '../test/fixtures'
import { getPost, putPost } from '../lib/postStore'
import { api } from '../api/client'

const post = (count: number, average: number): Post =>
  makePost({
    id: '4',
    caption: 'x',
    stats: { count, average, laughs: count * average, histogram: { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 }, score_top: 0, score_hot: 0 },
  })

describe('the danger zone rows', () => {
  it('say "1 rating", and a tie lost on age instead of "0.000 points"', () => {
    const [r] = readRisk({ items: [{ rank: 7, score: 1.2, distance: 0, places: 1, post_id: '4', post: post(1, 3) }], count: 1 })
    expect(riskLine(r, r.post)).toBe('rank 7 · 1 rating, avg 3.0 · needs to overtake 1 post (tied on score: the older post loses the tie)')
  })

  it('say "no ratings yet" for an unrated post, not "avg 0.0"', () => {
    const [r] = readRisk([{ rank: 8, score: 0.5, distance: 0.25, places: 2, post_id: '4', post: post(0, 0) }])
    expect(riskLine(r, r.post)).toBe('rank 8 · no ratings yet · needs to overtake 2 posts (0.250 points behind)')
  })

  it('leave no dangling separator when a piece is missing (a past cull\'s victims)', () => {
    const [r] = readRisk([{ rank: 7, score: 0, post_id: '4', post: post(0, 0) }])
    expect(riskLine(r, r.post)).toBe('rank 7 · no ratings yet')
  })
})

describe('the danger zone, live', () => {
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  const stats = (count: number, average: number) => ({ ...post(count, average).stats })

  it('follows the posts it lists (the first page)', () => {
    const v = readCull({ danger: { items: [{ post_id: '4', rank: 7, post: post(1, 3) }, { post_id: '9', rank: 8 }], count: 2 } })
    expect(riskIds(v)).toEqual(['4', '9'])
    expect(riskIds(null)).toEqual([])
  })

  it('reads the zone again on a rating or a status change, not on comments, reactions or viewers', () => {
    const held = { ...post(1, 3), stats_version: 5 }
    expect(zoneMayHaveChanged({ ch: 'post:4', type: 'stats', v: 2, data: { stats: stats(2, 3), version: 6 } }, held)).toBe(true)
    expect(zoneMayHaveChanged({ ch: 'post:4', type: 'status', v: 2, data: { id: '4', status: 'removed' } }, held)).toBe(true)
    for (const type of ['comment', 'comment_deleted', 'reactions', 'viewers'])
      expect(zoneMayHaveChanged({ ch: 'post:4', type, v: 2, data: {} }, held)).toBe(false)
    // The snapshot that follows the subscription: only when it has newer stats
    // (ratings missed while the connection was away).
    expect(zoneMayHaveChanged({ ch: 'post:4', type: 'snapshot', v: 2, data: { post: { ...held }, viewers: 1 } }, held)).toBe(false)
    expect(zoneMayHaveChanged({ ch: 'post:4', type: 'snapshot', v: 2, data: { post: { ...held, stats_version: 6 }, viewers: 1 } }, held)).toBe(true)
  })

  it('shows a rating of a listed post at once, and reads GET /cull once for a burst of them, 3 to 5 s later', async () => {
    vi.useFakeTimers()
    const fetch = vi.fn(async () => new Response(JSON.stringify({ danger: { items: [] } }), { status: 200 }))
    vi.stubGlobal('fetch', fetch)
    const p = { ...post(1, 3), id: '77', stats_version: 5 }
    putPost(p)
    const reread = zoneReread(() => api('/cull'), () => 0.5) // this viewer's jitter: 1 s
    expect(reread.delayMs).toBe(4000)
    heardRiskPost('77', { ch: 'post:77', type: 'stats', v: 2, data: { stats: stats(2, 4), version: 6 } }, reread)
    expect(getPost('77')!.stats.count).toBe(2)
    expect(getPost('77')!.stats_version).toBe(6)
    await vi.advanceTimersByTimeAsync(200)
    heardRiskPost('77', { ch: 'post:77', type: 'stats', v: 3, data: { stats: stats(3, 4), version: 7 } }, reread)
    heardRiskPost('77', { ch: 'post:77', type: 'viewers', v: 4, data: { viewers: 3 } }, reread)
    expect(getPost('77')!.stats.count).toBe(3)
    await vi.advanceTimersByTimeAsync(3000)
    expect(fetch).not.toHaveBeenCalled() // not within 500 ms, as it was
    await vi.advanceTimersByTimeAsync(800)
    expect(fetch).toHaveBeenCalledTimes(1)
    expect(String((fetch.mock.calls[0] as unknown[])[0])).toBe('/api/v1/cull')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(fetch).toHaveBeenCalledTimes(1)
    expect(getPost('77')!.stats.count).toBe(3)
    expect(getPost('77')!.viewers).toBe(3)
  })

  it('spreads the viewers\' reads over 3 to 5 s', () => {
    const read = async () => undefined
    expect(zoneReread(read, () => 0).delayMs).toBe(3000)
    expect(zoneReread(read, () => 0.999).delayMs).toBeLessThanOrEqual(5000)
    expect(zoneReread(read, () => 0.999).delayMs).toBeGreaterThan(4900)
  })

  it('does not read GET /cull for a rating heard within seconds of the danger channel\'s own "changed" read', async () => {
    vi.useFakeTimers()
    const fetch = vi.fn(async () => new Response(JSON.stringify({ danger: { items: [] } }), { status: 200 }))
    vi.stubGlobal('fetch', fetch)
    putPost({ ...post(1, 3), id: '78', stats_version: 5 })
    const reread = zoneReread(() => api('/cull'), () => 0)
    reread.now({ fresh: true }) // "changed" on the danger channel
    await vi.advanceTimersByTimeAsync(1000)
    expect(fetch).toHaveBeenCalledTimes(1)
    heardRiskPost('78', { ch: 'post:78', type: 'stats', v: 2, data: { stats: stats(2, 4), version: 6 } }, reread)
    expect(getPost('78')!.stats.count).toBe(2) // shown at once all the same
    await vi.advanceTimersByTimeAsync(20_000)
    expect(fetch).toHaveBeenCalledTimes(1)
    // Long after it, a rating is read again.
    heardRiskPost('78', { ch: 'post:78', type: 'stats', v: 3, data: { stats: stats(3, 4), version: 7 } }, reread)
    await vi.advanceTimersByTimeAsync(3000)
    expect(fetch).toHaveBeenCalledTimes(2)
  })
})
