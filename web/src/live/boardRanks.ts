// A post's rank chips (ranks.hot, .top, .top_day, .top_week), kept true on
// its page while other posts overtake it.
//
// The post's own channel says nothing when other posts pass it; the boards'
// channels do, for their top 20: board:<name> sends the top 20 as a
// snapshot, then diffs with every post that entered, left or moved (at most
// WS_BOARD_RATE messages a second per board, computed once per node, not per
// viewer). So while the post is in a board's top 20 its page follows that
// board and takes its rank from the messages, with no request at all; when
// it falls out of the top 20 (its rank is then somewhere below, which no
// message says) the post is read again, once, to learn it. Below the top 20
// no message tells of a post being overtaken: those ranks stay as read (a
// reload, or any read of the post, refreshes them).

import type { Post } from '../api/types'
import type { LiveEvent } from './LiveClient'

export type RankKey = 'hot' | 'top' | 'top_day' | 'top_week'
export const RANK_KEYS: readonly RankKey[] = ['hot', 'top', 'top_day', 'top_week']

// How many posts a board channel carries (docs/realtime.md: the top 20).
export const BOARD_TOP = 20

type Obj = Record<string, unknown>
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x)

const DAY_MS = 86_400_000

// isoWeek: the ISO week of a time, as "2026-W48" (as the server names its
// week boards), in UTC.
export function isoWeek(t: number): string {
  const d = new Date(t)
  const day = (d.getUTCDay() + 6) % 7 // Monday 0 … Sunday 6
  // The Thursday of the week decides its year.
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - day * DAY_MS + 3 * DAY_MS
  const year = new Date(thursday).getUTCFullYear()
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY_MS))
  return `${year}-W${String(week).padStart(2, '0')}`
}

const utcDay = (t: number) => new Date(t).toISOString().slice(0, 10)

// rankChannel names the live board channel that ranks `key` of the post,
// or null when there is none to follow: the post is not ready or holds no
// rank there, its rank is below the channel's top 20, or the rank is of
// another day's (week's) board than the channel's — ranks.top_day is the
// board of the UTC day the post was created, board:top:day today's.
export function rankChannel(post: Pick<Post, 'status' | 'ranks' | 'created_at'>, key: RankKey, now = Date.now()): string | null {
  if (post.status !== 'ready') return null
  const r = post.ranks?.[key]
  if (typeof r !== 'number' || r < 1 || r > BOARD_TOP) return null
  const created = Date.parse(post.created_at)
  switch (key) {
    case 'hot':
      return 'board:hot'
    case 'top':
      return 'board:top:all'
    case 'top_day':
      return !Number.isNaN(created) && utcDay(created) === utcDay(now) ? 'board:top:day' : null
    case 'top_week':
      return !Number.isNaN(created) && isoWeek(created) === isoWeek(now) ? 'board:top:week' : null
  }
}

// BoardNews: what a board message says of one post: its rank now, or that
// it is no longer in the top (reread: read the post again for its rank).
export interface BoardNews {
  rank?: number
  reread?: boolean
}

const idOf = (x: unknown): string | null => (isObj(x) && (typeof x.id === 'string' || typeof x.id === 'number') ? String(x.id) : null)

// boardNews reads a message of a board channel the post `id` is followed on.
export function boardNews(id: string, ev: LiveEvent): BoardNews {
  const d = ev.data
  if (!isObj(d)) return {}
  if (ev.type === 'snapshot') {
    if (!Array.isArray(d.items)) return {}
    const it = d.items.find((x) => idOf(x) === id)
    if (isObj(it) && typeof it.rank === 'number') return { rank: it.rank }
    // Followed because it was in the top, and the top does not list it: it
    // fell out since it was read.
    return { reread: true }
  }
  if (ev.type !== 'diff') return {}
  if (Array.isArray(d.left) && d.left.some((x) => String(x) === id)) return { reread: true }
  const moved = Array.isArray(d.moved) ? d.moved.find((x) => idOf(x) === id) : undefined
  if (isObj(moved) && typeof moved.to === 'number') return { rank: moved.to }
  const entered = Array.isArray(d.entered) ? d.entered.find((x) => idOf(x) === id) : undefined
  if (isObj(entered) && typeof entered.rank === 'number') return { rank: entered.rank }
  return {}
}

// withRank: the post with rank `key` set to `rank` (the same object when it
// already holds it).
export function withRank(post: Post, key: RankKey, rank: number): Post {
  if (post.status !== 'ready' || post.ranks?.[key] === rank) return post
  return { ...post, ranks: { ...post.ranks, [key]: rank } }
}
