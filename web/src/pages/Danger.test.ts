import { describe, expect, it } from 'vitest'
import { readRisk, riskLine } from './Danger'
import type { Post } from '../api/types'

function post(count: number, average: number): Post {
  return {
    id: '4',
    author: { id: '1', username: 'alice', display_name: 'Alice', photo_url: null },
    caption: 'x',
    tags: [],
    kind: 'text',
    status: 'ready',
    media: null,
    duplicate_of: null,
    comment_count: 0,
    reactions: {},
    my_reactions: [],
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    removed: null,
    stats: { count, average, laughs: count * average, histogram: { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 }, score_top: 0, score_hot: 0 },
    ranks: {},
    my_rating: null,
  }
}

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
