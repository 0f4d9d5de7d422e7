// Words for the cull: what the banner of a culled post says, and how far a
// post of the danger zone is from safety.

import type { CullInfo, Post, PostStats } from '../api/types'
import { num, plural, timeAgo } from './format'

// culledLine: "Culled 7 minutes ago at rank #7". The cycle number is the
// server's bookkeeping, not something to show.
export function culledLine(c: CullInfo, now = Date.now()): string {
  let s = 'Culled'
  if (c.at) s += ' ' + timeAgo(c.at, now)
  if (typeof c.rank === 'number') s += ` at rank #${c.rank}`
  return s
}

// needsCullDetail says whether a post just heard to be culled must be read
// again for its banner: the live status message carries no rank or time
// (GET /api/v1/posts/{id} does, as `culled`).
export function needsCullDetail(before: Pick<Post, 'status'> | undefined, after: Pick<Post, 'status' | 'culled'> | undefined): boolean {
  if (!after || after.status !== 'culled' || before?.status === 'culled') return false
  const c = after.culled
  return !c || typeof c.rank !== 'number' || !c.at
}

// survivedLabel and culledPostsLabel: the labels of an author's cull
// numbers. posts_survived counts posts (those that faced a cull and are
// still up), not culls.
export function survivedLabel(n: number): string {
  return n === 1 ? 'post survived a cull' : 'posts survived a cull'
}

export function culledPostsLabel(n: number): string {
  return n === 1 ? 'post culled' : 'posts culled'
}

export interface Risk {
  rank?: number
  // Eligible posts it must overtake to be safe (1 for the best of the zone).
  places?: number
  // Score it must gain to draw level with the first safe post; at equal
  // score the older post loses the tie. null: no post is safe.
  distance?: number | null
}

// ratingsText: "1 rating, avg 4.0", or "no ratings yet".
export function ratingsText(stats: Pick<PostStats, 'count' | 'average'>): string {
  if (!stats.count) return 'no ratings yet'
  return `${plural(stats.count, 'rating')}, avg ${num(stats.average, 1)}`
}

// safetyText: how far from safety, or null when the answer says nothing.
export function safetyText(r: Risk): string | null {
  if (r.places === undefined || r.places <= 0) return null
  let s = `needs to overtake ${plural(r.places, 'post')}`
  if (typeof r.distance === 'number') {
    if (r.distance <= 0) s += ' (tied on score: the older post loses the tie)'
    else if (r.distance < 0.001) s += ' (less than 0.001 points behind)'
    else s += ` (${num(r.distance, 3)} points behind)`
  }
  return s
}
