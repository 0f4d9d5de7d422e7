// Test fixtures: a whole Post as the API sends it, so that each test names
// only what it is about.

import type { Post, PostStats } from '../api/types'

// stats of count five-star ratings (none by default).
export function fiveStars(count = 0): PostStats {
  return { count, average: count ? 5 : 0, laughs: 5 * count, histogram: { '1': 0, '2': 0, '3': 0, '4': 0, '5': count }, score_top: count, score_hot: count }
}

let next = 1000

// makePost is a ready text post by alice with no ratings, reactions or
// comments, a fresh id, and over on top.
export function makePost(over: Partial<Post> = {}): Post {
  return {
    id: String(next++),
    author: { id: '1', username: 'alice', display_name: 'Alice', photo_url: null },
    caption: 'hi',
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
    stats: fiveStars(0),
    ranks: {},
    stats_version: 1,
    reactions_version: 1,
    comments_version: 1,
    my_rating: null,
    ...over,
  }
}
