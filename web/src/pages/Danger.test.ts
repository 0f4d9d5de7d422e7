import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  dangerChanged,
  heardRiskPost,
  joinRunPage,
  joinZone,
  readCull,
  readRisk,
  readRunPage,
  readZone,
  riskIds,
  riskLine,
  runShown,
  zoneMayHaveChanged,
  zoneMoreLabel,
  zoneMoved,
  zoneReread,
  zoneShown,
  ZONE_MORE,
} from './Danger'
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

// A zone of `count` posts as GET /api/v1/cull pages it: best-ranked first
// (the post nearest safety first, rank 97 of 120 when 24 are in danger),
// `limit` (default 20, at most 100) from the offset in `cursor`.
function zoneServer(count: number, opts: { lastRank?: number; cycle?: number } = {}) {
  const last = opts.lastRank ?? 120
  const calls: string[] = []
  const get = async (path: string) => {
    calls.push(path)
    const u = new URL(path, 'http://x')
    const offset = Number(u.searchParams.get('cursor') ?? 0)
    const limit = Math.min(Number(u.searchParams.get('limit') ?? 20), 100)
    const items = []
    for (let i = offset; i < Math.min(count, offset + limit); i++) {
      const rank = last - count + 1 + i
      items.push({ rank, score: 0, distance: 0, places: i + 1, post_id: String(rank), post: makePost({ id: String(rank), caption: `rank ${rank}` }) })
    }
    const next = offset + limit < count ? String(offset + limit) : null
    return { next_cull_at: '2026-01-01T00:00:00Z', cycle: opts.cycle ?? 7, ready: last, eligible: last, settings: {}, danger: { count, safe_score: 1, items, next_cursor: next }, recent_runs: [] }
  }
  return { get, calls }
}

describe('the danger zone, paged', () => {
  it('reads the cursor of the next page, and null on the last', () => {
    expect(readCull({ danger: { count: 24, items: [], next_cursor: '20' } }).nextCursor).toBe('20')
    expect(readCull({ danger: { count: 4, items: [], next_cursor: null } }).nextCursor).toBeNull()
  })

  it('shows the first page, says how many are not shown, and reaches the most endangered with the cursor', async () => {
    const s = zoneServer(24)
    const first = await readZone(s.get, 20)
    expect(s.calls).toEqual(['/cull']) // the page every viewer reads (and the server shares)
    expect(first.atRisk.map((r) => r.rank)).toEqual(Array.from({ length: 20 }, (_, i) => 97 + i))
    expect(first.atRiskCount).toBe(24)
    expect(first.nextCursor).toBe('20')
    expect(zoneShown(first)).toBe('Showing 20 of 24, nearest to safety first: the 4 not shown yet go first.')
    expect(zoneMoreLabel(first)).toBe('Show 4 more')
    // "Show more": the next page with the cursor.
    const page = readCull(await s.get(`/cull?cursor=${first.nextCursor}&limit=${ZONE_MORE}`))
    expect(zoneMoved(first, page)).toBe(false)
    const all = joinZone(first, page)
    expect(all.atRisk.map((r) => r.rank).slice(-4)).toEqual([117, 118, 119, 120])
    expect(all.atRisk).toHaveLength(24)
    expect(all.nextCursor).toBeNull()
    expect(zoneShown(all)).toBeNull() // the count and the list agree
  })

  it('reads again as many rows as were shown: one read up to 100, then page by page', async () => {
    const s = zoneServer(24)
    const v = await readZone(s.get, 70)
    expect(s.calls).toEqual(['/cull?limit=70'])
    expect(v.atRisk).toHaveLength(24)
    const big = zoneServer(260, { lastRank: 1000 })
    const w = await readZone(big.get, 170)
    expect(big.calls).toEqual(['/cull?limit=100', '/cull?cursor=100&limit=70'])
    expect(w.atRisk).toHaveLength(170)
    expect(new Set(w.atRisk.map((r) => r.key)).size).toBe(170)
    expect(w.nextCursor).toBe('170')
    expect(zoneShown(w)).toBe('Showing 170 of 260, nearest to safety first: the 90 not shown yet go first.')
    expect(zoneMoreLabel(w)).toBe(`Show ${ZONE_MORE} more`)
  })

  it('lists a post once when the zone moved between two pages, and never more rows than the zone has posts', () => {
    const row = (id: string, rank: number) => ({ rank, post_id: id })
    const a = readCull({ cycle: 7, danger: { count: 4, items: [row('1', 10), row('2', 11)], next_cursor: '2' } })
    // Meanwhile post 2 moved down a place and the zone shrank to 3.
    const b = readCull({ cycle: 7, danger: { count: 3, items: [row('2', 12)], next_cursor: null } })
    expect(zoneMoved(a, b)).toBe(true) // the page reads the zone again
    const j = joinZone(a, b)
    expect(j.atRisk.map((r) => r.key)).toEqual(['1', '2'])
    expect(j.atRiskCount).toBe(3)
    const c = readCull({ cycle: 7, danger: { count: 1, items: [row('3', 12)], next_cursor: null } })
    expect(joinZone(a, c).atRisk).toHaveLength(1)
    expect(zoneMoved(a, readCull({ cycle: 8, danger: { count: 4, items: [], next_cursor: null } }))).toBe(true)
  })
})

describe('a cull run\'s victims', () => {
  const victims = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ rank: from + i, score: 0, post_id: String(from + i), post: null }))

  it('counts them all (victim_count), not the page, and reads on with the cursor', () => {
    const first = readRunPage({ id: '5', victim_count: 26, eligible: 260, victims: { items: victims(95, 20), next_cursor: '114' } })
    expect(first.count).toBe(26)
    expect(first.victims).toHaveLength(20)
    expect(first.next).toBe('114')
    expect(runShown(first)).toBe('Showing 20 of 26, best-ranked first.')
    const all = joinRunPage(first, readRunPage({ id: '5', victim_count: 26, victims: { items: victims(115, 6), next_cursor: null } }))
    expect(all.victims.map((v) => v.rank)).toEqual(Array.from({ length: 26 }, (_, i) => 95 + i))
    expect(all.next).toBeNull()
    expect(runShown(all)).toBeNull()
    expect(all.run.eligible).toBe(260)
  })

  it('does not list a victim twice', () => {
    const first = readRunPage({ victim_count: 3, victims: { items: victims(1, 2), next_cursor: '2' } })
    expect(joinRunPage(first, readRunPage({ victim_count: 3, victims: { items: victims(2, 2), next_cursor: null } })).victims.map((v) => v.key)).toEqual(['1', '2', '3'])
  })
})

describe('the danger channel\'s "changed"', () => {
  afterEach(() => vi.useRealTimers())

  it('reads GET /cull after a random wait of 0.25 to 3 s, once for several messages', async () => {
    vi.useFakeTimers()
    const reads: number[] = []
    const reread = { now: vi.fn(() => reads.push(Date.now())) }
    const start = Date.now()
    const c = dangerChanged(reread, () => 0.5) // this viewer waits 1.625 s
    c.fire()
    await vi.advanceTimersByTimeAsync(1000)
    c.fire()
    c.fire()
    expect(reread.now).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(700)
    expect(reread.now).toHaveBeenCalledTimes(1)
    expect(reread.now).toHaveBeenCalledWith({ fresh: true })
    expect(reads[0] - start).toBe(1625)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(reread.now).toHaveBeenCalledTimes(1)
    // A message after the read: another read, after another wait.
    c.fire()
    await vi.advanceTimersByTimeAsync(3000)
    expect(reread.now).toHaveBeenCalledTimes(2)
  })

  it('spreads the viewers over the window', async () => {
    vi.useFakeTimers()
    const at = async (r: number) => {
      const start = Date.now()
      let when = -1
      dangerChanged({ now: () => (when = Date.now() - start) }, () => r).fire()
      await vi.advanceTimersByTimeAsync(5000)
      return when
    }
    expect(await at(0)).toBe(250)
    expect(await at(0.999)).toBeGreaterThan(2990)
    expect(await at(0.999)).toBeLessThanOrEqual(3000)
  })
})
