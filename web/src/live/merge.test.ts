import { describe, it, expect } from 'vitest'
import { applyPostEvent, feedEvent } from './merge'
import type { Post } from '../api/types'
import { makePost } from '../test/fixtures'

const post: Post = makePost({
  id: '12',
  comment_count: 2,
  stats: { count: 0, average: 0, laughs: 0, histogram: { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 }, score_top: 0, score_hot: 0 },
  my_rating: 4,
})

const stats = { count: 1, average: 5, laughs: 5, histogram: { '1': 0, '2': 0, '3': 0, '4': 0, '5': 1 }, score_top: 2.7, score_hot: 1 }

describe('applyPostEvent', () => {
  it('merges changed fields and keeps the caller’s own rating', () => {
    const r = applyPostEvent(post, { ch: 'post:12', type: 'stats', v: 2, data: { stats, ranks: { hot: 1 } } })
    expect(r.changed).toBe(true)
    expect(r.post.stats.average).toBe(5)
    expect(r.post.ranks.hot).toBe(1)
    expect(r.post.my_rating).toBe(4)
  })
  it('takes a whole post or {post: …}', () => {
    const r = applyPostEvent(post, { ch: 'post:12', type: 'snapshot', v: 1, data: { post: { ...post, stats, my_rating: null }, viewers: 3 } })
    expect(r.post.stats.count).toBe(1)
    expect(r.post.viewers).toBe(3)
    expect(r.post.my_rating).toBe(4)
  })
  it('ignores data about another post', () => {
    expect(applyPostEvent(post, { ch: 'post:12', type: 'stats', v: 2, data: { id: '13', stats } }).changed).toBe(false)
  })
  it('adds a comment and counts it', () => {
    const c = { id: '5', post_id: '12', author: post.author, body: 'lol', created_at: '2026-01-01T00:00:00Z' }
    const r = applyPostEvent(post, { ch: 'post:12', type: 'comment', v: 3, data: c })
    expect(r.comment?.body).toBe('lol')
    expect(r.post.comment_count).toBe(3)
  })
  it('reads viewers', () => {
    expect(applyPostEvent(post, { ch: 'post:12', type: 'viewers', data: { count: 7 } }).post.viewers).toBe(7)
  })
  it('ignores stats older than the last applied (publishers can reorder them)', () => {
    const newer = { ...stats, count: 2, laughs: 9 }
    const a = applyPostEvent(post, { ch: 'post:12', type: 'stats', v: 3, data: { stats: newer, version: 8 } })
    expect(a.post.stats.count).toBe(2)
    const b = applyPostEvent(a.post, { ch: 'post:12', type: 'stats', v: 4, data: { stats, version: 7 } })
    expect(b.changed).toBe(false)
    expect(b.post.stats.count).toBe(2)
    const c = applyPostEvent(b.post, { ch: 'post:12', type: 'stats', v: 5, data: { stats, version: 9 } })
    expect(c.post.stats.count).toBe(1)
    expect(c.post.stats_version).toBe(9)
  })

  it('ignores reactions older than the last applied (concurrent changes can arrive out of order)', () => {
    const a = applyPostEvent(post, { ch: 'post:12', type: 'reactions', v: 3, data: { reactions: { laugh: 2, fire: 1 }, version: 5 } })
    expect(a.changed).toBe(true)
    expect(a.post.reactions).toEqual({ laugh: 2, fire: 1 })
    expect(a.post.reactions_version).toBe(5)
    // Published after the newer counts, but older.
    const b = applyPostEvent(a.post, { ch: 'post:12', type: 'reactions', v: 4, data: { reactions: { laugh: 2 }, version: 4 } })
    expect(b.changed).toBe(false)
    expect(b.post.reactions).toEqual({ laugh: 2, fire: 1 })
    const same = applyPostEvent(a.post, { ch: 'post:12', type: 'reactions', v: 5, data: { reactions: { laugh: 9 }, version: 5 } })
    expect(same.changed).toBe(false)
    const c = applyPostEvent(b.post, { ch: 'post:12', type: 'reactions', v: 6, data: { reactions: { laugh: 1, fire: 1 }, version: 6 } })
    expect(c.post.reactions).toEqual({ laugh: 1, fire: 1 })
    expect(c.post.reactions_version).toBe(6)
    expect(c.post.my_reactions).toEqual(post.my_reactions)
  })
  it('takes reactions without a version, and keeps newer ones from an older whole post', () => {
    const a = applyPostEvent(post, { ch: 'post:12', type: 'reactions', v: 3, data: { reactions: { clap: 1 } } })
    expect(a.post.reactions).toEqual({ clap: 1 })
    const b = applyPostEvent({ ...post, reactions: { clap: 3 }, reactions_version: 7 }, { ch: 'post:12', type: 'snapshot', v: 4, data: { post: { ...post, reactions: { clap: 2 }, reactions_version: 6 }, viewers: 1 } })
    expect(b.post.reactions).toEqual({ clap: 3 })
    expect(b.post.reactions_version).toBe(7)
    expect(b.post.viewers).toBe(1)
  })

  it('takes the count of comment messages newer than the post’s, and lists their comments all the same', () => {
    const c = { id: '5', post_id: '12', author: post.author, body: 'lol', created_at: '2026-01-01T00:00:00Z' }
    const held = { ...post, comment_count: 4, comments_version: 6 }
    const a = applyPostEvent(held, { ch: 'post:12', type: 'comment', v: 3, data: { ...c, comment_count: 5, comments_version: 7 } })
    expect(a.post.comment_count).toBe(5)
    expect(a.post.comments_version).toBe(7)
    // Already in the count (the post was read after it), or heard twice.
    for (const version of [6, 7]) {
      const b = applyPostEvent(a.post, { ch: 'post:12', type: 'comment', v: 4, data: { ...c, id: '4', comment_count: 99, comments_version: version } })
      expect(b.post.comment_count).toBe(5)
      expect(b.post.comments_version).toBe(7)
      expect(b.comment?.id).toBe('4')
    }
    const d = applyPostEvent(a.post, { ch: 'post:12', type: 'comment_deleted', v: 5, data: { id: '5', comment_count: 4, comments_version: 8 } })
    expect(d.deletedCommentId).toBe('5')
    expect(d.post.comment_count).toBe(4)
    const late = applyPostEvent(d.post, { ch: 'post:12', type: 'comment_deleted', v: 6, data: { id: '3', comment_count: 3, comments_version: 8 } })
    expect(late.post.comment_count).toBe(4)
    expect(late.deletedCommentId).toBe('3')
  })
  it('keeps a newer comment count than an older whole post’s', () => {
    const held = { ...post, comment_count: 7, comments_version: 9 }
    const a = applyPostEvent(held, { ch: 'post:12', type: 'snapshot', v: 4, data: { post: { ...post, comment_count: 6, comments_version: 8 }, viewers: 1 } })
    expect(a.post.comment_count).toBe(7)
    expect(a.post.comments_version).toBe(9)
    const b = applyPostEvent(held, { ch: 'post:12', type: 'snapshot', v: 4, data: { post: { ...post, comment_count: 8, comments_version: 10 }, viewers: 1 } })
    expect(b.post.comment_count).toBe(8)
    expect(b.post.comments_version).toBe(10)
  })

  it('reads the server’s stats, status and comment_deleted messages', () => {
    expect(applyPostEvent(post, { ch: 'post:12', type: 'stats', v: 2, data: { stats, version: 7 } }).post.stats.count).toBe(1)
    expect(applyPostEvent(post, { ch: 'post:12', type: 'status', v: 3, data: { id: '12', status: 'culled' } }).post.status).toBe('culled')
    const d = applyPostEvent(post, { ch: 'post:12', type: 'comment_deleted', v: 4, data: { id: '5' } })
    expect(d.deletedCommentId).toBe('5')
    expect(d.post.comment_count).toBe(1)
  })
  it('marks a culled post', () => {
    const r = applyPostEvent(post, { ch: 'post:12', type: 'culled', v: 9, data: { rank: 40, run_id: 3 } })
    expect(r.post.status).toBe('culled')
  })
})

describe('feedEvent', () => {
  it('announces a ready post', () => {
    expect(feedEvent({ ch: 'posts:new', type: 'post', v: 1, data: post }).added?.id).toBe('12')
    expect(feedEvent({ ch: 'posts:new', type: 'created', v: 1, data: { post } }).added?.id).toBe('12')
  })
  it('reads removals and culls in their several shapes', () => {
    expect(feedEvent({ ch: 'posts:new', type: 'culled', v: 2, data: { ids: ['1', 2] } }).removedIds).toEqual(['1', '2'])
    expect(feedEvent({ ch: 'posts:new', type: 'removed', v: 2, data: { post_id: '7' } }).removedIds).toEqual(['7'])
    expect(feedEvent({ ch: 'posts:new', type: 'cull', v: 2, data: { posts: [{ id: '4' }] } }).removedIds).toEqual(['4'])
    expect(feedEvent({ ch: 'posts:new', type: 'gone', v: 2, data: { id: '9', status: 'culled' } }).removedIds).toEqual(['9'])
  })
  it('reads the newest posts from a snapshot', () => {
    expect(feedEvent({ ch: 'posts:new', type: 'snapshot', v: 1, data: { items: [post, { id: '3' }] } })).toEqual({ removedIds: [], latest: [post], snapshotIds: ['12', '3'] })
  })
})
