import { describe, expect, it } from 'vitest'
import { getPost, liveMark, putPost, updatePost } from './postStore'
import { applyPostEvent } from '../live/merge'
import type { Post } from '../api/types'
import { fiveStars, makePost } from '../test/fixtures'

const stats = fiveStars
const post = makePost

// live plays a post:<id> message into the store as the post page does.
function live(id: string, type: string, data: unknown, v = 1) {
  updatePost(id, (p) => applyPostEvent(p, { ch: `post:${id}`, type, v, data }).post)
}

// unversioned: a copy from a server older than stats_version (a rolling
// upgrade), which the store still has to order by when it was requested.
function unversioned(p: Post): Post {
  const { stats_version: _s, reactions_version: _r, ...rest } = p
  return rest as Post
}

describe('postStore: stats read over REST against stats heard live', () => {
  it('keeps live stats heard while an unversioned REST answer was on its way (the answer may be older)', () => {
    const p = unversioned(post({ stats: stats(3) }))
    putPost(p)
    const since = liveMark()
    live(p.id, 'stats', { stats: stats(5), version: 9 })
    putPost({ ...p, stats: stats(4), caption: 'edited' }, since) // read before rating 9
    expect(getPost(p.id)!.stats.count).toBe(5)
    expect(getPost(p.id)!.stats_version).toBe(9)
    expect(getPost(p.id)!.caption).toBe('edited') // the rest of the answer is taken
  })

  it('takes an unversioned REST answer requested after the live stats were heard', () => {
    const p = unversioned(post({ stats: stats(3) }))
    putPost(p)
    live(p.id, 'stats', { stats: stats(5), version: 9 })
    const since = liveMark()
    putPost({ ...p, stats: stats(6) }, since)
    expect(getPost(p.id)!.stats.count).toBe(6)
    // 9 stays the floor: a message older than it is still refused.
    live(p.id, 'stats', { stats: stats(2), version: 8 }, 2)
    expect(getPost(p.id)!.stats.count).toBe(6)
  })

  it('orders a REST answer and live stats by stats_version, whenever the answer was requested', () => {
    const p = post({ stats: stats(3), stats_version: 7 })
    putPost(p)
    const since = liveMark()
    live(p.id, 'stats', { stats: stats(5), version: 9 })
    // Requested before the live message but read after the rating: newer.
    putPost({ ...p, stats: stats(6), stats_version: 10 }, since)
    expect(getPost(p.id)!.stats.count).toBe(6)
    expect(getPost(p.id)!.stats_version).toBe(10)
    // Requested after the live message but read before it: older.
    const later = liveMark()
    putPost({ ...p, stats: stats(4), stats_version: 8 }, later)
    expect(getPost(p.id)!.stats.count).toBe(6)
  })

  it('compares a copy that carries stats_version by it, both ways', () => {
    const p = post({ stats: stats(7), stats_version: 12 })
    putPost(p)
    live(p.id, 'stats', { stats: stats(6), version: 11 }) // late, older
    expect(getPost(p.id)!.stats.count).toBe(7)
    putPost({ ...p, stats: stats(5), stats_version: 10 }) // an older read
    expect(getPost(p.id)!.stats.count).toBe(7)
    expect(getPost(p.id)!.stats_version).toBe(12)
    putPost({ ...p, stats: stats(8), stats_version: 13 })
    expect(getPost(p.id)!.stats.count).toBe(8)
  })

  it('does not let a snapshot that carries an older stats_version undo newer live stats', () => {
    const p = post({ stats: stats(1) })
    putPost(p)
    live(p.id, 'stats', { stats: stats(5), version: 9 })
    live(p.id, 'snapshot', { post: { ...p, stats: stats(4), stats_version: 8, comment_count: 3 }, viewers: 2 }, 2)
    expect(getPost(p.id)!.stats.count).toBe(5)
    expect(getPost(p.id)!.comment_count).toBe(3)
    live(p.id, 'snapshot', { post: { ...p, stats: stats(6), stats_version: 10 }, viewers: 2 }, 3)
    expect(getPost(p.id)!.stats.count).toBe(6)
    expect(getPost(p.id)!.stats_version).toBe(10)
  })
})

describe('postStore: reactions read over REST against reactions heard live', () => {
  it('keeps newer live counts over an older REST copy, but takes the caller\'s own reactions from it', () => {
    const p = post({ reactions: { laugh: 1 }, reactions_version: 3 })
    putPost(p)
    live(p.id, 'reactions', { reactions: { laugh: 2, fire: 1 }, version: 5 })
    putPost({ ...p, reactions: { laugh: 2 }, reactions_version: 4, my_reactions: ['laugh'] })
    expect(getPost(p.id)!.reactions).toEqual({ laugh: 2, fire: 1 })
    expect(getPost(p.id)!.reactions_version).toBe(5)
    expect(getPost(p.id)!.my_reactions).toEqual(['laugh'])
    putPost({ ...p, reactions: { laugh: 3, fire: 1 }, reactions_version: 6 })
    expect(getPost(p.id)!.reactions).toEqual({ laugh: 3, fire: 1 })
    expect(getPost(p.id)!.reactions_version).toBe(6)
  })
})

describe('postStore: comment counts read over REST against comments heard live', () => {
  it('keeps a newer live comment count over an older REST copy, and takes a newer copy\'s', () => {
    const p = post({ comment_count: 50, comments_version: 50 })
    putPost(p)
    live(p.id, 'comment', { id: '51', post_id: p.id, author: p.author, body: 'ha', created_at: p.created_at, comment_count: 51, comments_version: 51 })
    // Read before comment 51, answered after its message.
    putPost({ ...p, caption: 'edited' })
    expect(getPost(p.id)!.comment_count).toBe(51)
    expect(getPost(p.id)!.comments_version).toBe(51)
    expect(getPost(p.id)!.caption).toBe('edited')
    putPost({ ...p, comment_count: 50, comments_version: 52 }) // read after a deletion too
    expect(getPost(p.id)!.comment_count).toBe(50)
    expect(getPost(p.id)!.comments_version).toBe(52)
  })
})

describe('postStore: ranks of a post that left circulation', () => {
  it('drops the rank chips when a live message culls or removes the post', () => {
    const p = post({ ranks: { hot: 3, top: 7, top_day: 2 } })
    putPost(p)
    expect(getPost(p.id)!.ranks).toEqual({ hot: 3, top: 7, top_day: 2 })
    live(p.id, 'culled', { id: p.id, status: 'culled', rank: 7 })
    expect(getPost(p.id)!.status).toBe('culled')
    expect(getPost(p.id)!.ranks).toEqual({})
    const q = post({ ranks: { hot: 1 } })
    putPost(q)
    live(q.id, 'removed', { id: q.id, status: 'removed', removed: { at: '2026-01-01T00:00:00Z', reason: 'spam' } })
    expect(getPost(q.id)!.ranks).toEqual({})
  })

  it('keeps no ranks from an older copy of a post that is not ready', () => {
    const p = post({ ranks: { hot: 3 } })
    putPost(p)
    putPost({ ...p, status: 'culled' })
    expect(getPost(p.id)!.ranks).toEqual({})
  })
})

describe('postStore: a status change against an older REST copy', () => {
  const removal = { at: '2026-01-01T00:00:00Z', reason: 'spam' }

  it('keeps a cull heard live over a copy read before it (same stats_version): no "ready", no rank chips', () => {
    const p = post({ ranks: { hot: 3, top: 7 }, stats: stats(2), stats_version: 5 })
    putPost(p)
    const since = liveMark()
    live(p.id, 'status', { id: p.id, status: 'culled', run: '4' })
    expect(getPost(p.id)!.status).toBe('culled')
    putPost({ ...p, caption: 'edited' }, since) // read before the cull: ready, v5
    expect(getPost(p.id)!.status).toBe('culled')
    expect(getPost(p.id)!.ranks).toEqual({})
    expect(getPost(p.id)!.caption).toBe('edited')
    // Even requested after the message: its stats_version says when it was read.
    putPost({ ...p, stats: stats(3), stats_version: 5 }, liveMark())
    expect(getPost(p.id)!.status).toBe('culled')
    // A copy read after the cull (which raised the version) is taken.
    putPost({ ...p, status: 'culled', ranks: {}, culled: { run_id: '4', rank: 7 }, stats_version: 6 })
    expect(getPost(p.id)!.status).toBe('culled')
    expect(getPost(p.id)!.culled).toEqual({ run_id: '4', rank: 7 })
    putPost({ ...p, stats_version: 5 })
    expect(getPost(p.id)!.status).toBe('culled')
    expect(getPost(p.id)!.culled).toEqual({ run_id: '4', rank: 7 })
  })

  it('keeps a removal heard live, with what it says, over an older copy', () => {
    const p = post({ ranks: { hot: 1 }, stats_version: 9 })
    putPost(p)
    live(p.id, 'status', { id: p.id, status: 'removed', removed: removal })
    putPost({ ...p, stats_version: 8 })
    putPost({ ...p, stats_version: 9 })
    expect(getPost(p.id)!.status).toBe('removed')
    expect(getPost(p.id)!.removed).toEqual(removal)
    expect(getPost(p.id)!.ranks).toEqual({})
  })

  it('keeps the status, ranks and removal of the copy with the newer stats_version, with its stats', () => {
    const p = post({ ranks: { hot: 2 }, stats: stats(4), stats_version: 7 })
    putPost({ ...p, status: 'removed', ranks: {}, removed: removal })
    putPost(p) // v7 too: the same read's time, taken
    expect(getPost(p.id)!.status).toBe('ready')
    putPost({ ...p, status: 'removed', ranks: {}, removed: removal, stats_version: 8 })
    putPost({ ...p, stats: stats(3), stats_version: 6 }) // read before the removal, arrived after
    expect(getPost(p.id)!.status).toBe('removed')
    expect(getPost(p.id)!.removed).toEqual(removal)
    expect(getPost(p.id)!.ranks).toEqual({})
    expect(getPost(p.id)!.stats.count).toBe(4)
    // Ready posts too: the ranks of the newer read stay.
    const q = post({ ranks: { hot: 2 }, stats_version: 7 })
    putPost(q)
    putPost({ ...q, ranks: { hot: 9 }, stats_version: 6 })
    expect(getPost(q.id)!.ranks).toEqual({ hot: 2 })
    putPost({ ...q, ranks: { hot: 1 }, stats_version: 8 })
    expect(getPost(q.id)!.ranks).toEqual({ hot: 1 })
  })

  it('orders an unversioned copy by when it was requested', () => {
    const p = unversioned(post({ ranks: { hot: 2 } }))
    putPost(p)
    const since = liveMark()
    live(p.id, 'status', { id: p.id, status: 'culled' })
    putPost(p, since) // requested before the message
    expect(getPost(p.id)!.status).toBe('culled')
    expect(getPost(p.id)!.ranks).toEqual({})
    putPost({ ...p, status: 'culled', culled: { rank: 3 } }, liveMark()) // requested after it
    expect(getPost(p.id)!.culled).toEqual({ rank: 3 })
  })
})
