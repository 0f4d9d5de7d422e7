// Pure functions that fold live messages into the UI's state. They are
// tolerant of the payload's exact shape (a whole post, {post: …}, or only
// the fields that changed), and say when they could not use a message so the
// caller refetches over REST instead.

import type { Comment, Post } from '../api/types'
import type { LiveEvent } from './LiveClient'

// Fields of a post that live messages may carry. Per-user fields (my_rating,
// my_reactions) never come from a broadcast.
const POST_FIELDS = [
  'stats',
  'ranks',
  'comment_count',
  'reactions',
  'status',
  'culled',
  'removed',
  'caption',
  'tags',
  'media',
  'updated_at',
  'viewers',
] as const

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

// postPart returns the post-shaped object inside a message's data.
function postPart(data: unknown): Record<string, unknown> | null {
  if (!isObject(data)) return null
  if (isObject(data.post)) return { ...data, ...data.post }
  return data
}

export interface PostUpdate {
  post: Post
  changed: boolean
  // A comment that arrived with the message, if any.
  comment?: Comment
  deletedCommentId?: string
}

// applyPostEvent folds a message of channel post:<id> into the post.
export function applyPostEvent(post: Post, ev: LiveEvent): PostUpdate {
  const data = ev.data
  const out: Post = { ...post }
  let changed = false
  let comment: Comment | undefined
  let deletedCommentId: string | undefined

  if (ev.type === 'viewers') {
    const n = isObject(data) ? (data.viewers ?? data.count ?? data.n) : data
    if (typeof n === 'number') {
      out.viewers = n
      return { post: out, changed: true }
    }
    return { post, changed: false }
  }
  if (/comment/.test(ev.type) && isObject(data)) {
    const c = (isObject(data.comment) ? data.comment : data) as unknown as Comment
    if (/delet|remov/.test(ev.type)) {
      deletedCommentId = String((data as Record<string, unknown>).comment_id ?? c.id ?? '')
      changed = true
    } else if (typeof c.body === 'string' && c.id !== undefined) {
      comment = c
      changed = true
    }
    // The count the change left, with the post's comments_version after
    // it. A count at that version or later already has the change (a post
    // read after it, or the message heard twice), and concurrent changes
    // can be published in either order: the count with the higher version
    // wins. The comment itself is still the caller's to list, by id: the
    // comments list is read apart from the count.
    const version = data.comments_version
    if (typeof version === 'number') {
      const newer = typeof post.comments_version !== 'number' || version > post.comments_version
      if (newer && typeof data.comment_count === 'number') {
        out.comment_count = data.comment_count
        out.comments_version = version
      }
    } else if (typeof data.comment_count === 'number') {
      out.comment_count = data.comment_count
      changed = true
    } else if (deletedCommentId !== undefined) {
      // A server older than comments_version: one message, one comment.
      out.comment_count = Math.max(0, post.comment_count - 1)
    } else if (comment) {
      out.comment_count = post.comment_count + 1
    }
    return { post: out, changed, comment, deletedCommentId }
  }
  const part = postPart(data)
  if (!part) return { post, changed: false }
  if (part.id !== undefined && String(part.id) !== post.id) return { post, changed: false }
  if (ev.type === 'stats' && typeof part.version === 'number') {
    if (post.stats_version !== undefined && part.version <= post.stats_version) return { post, changed: false }
    out.stats_version = part.version
  }
  // Each reactions change is its own message, and concurrent ones can be
  // published in either order: the counts with the higher version win.
  if (ev.type === 'reactions' && typeof part.version === 'number') {
    if (post.reactions_version !== undefined && part.version <= post.reactions_version) return { post, changed: false }
    out.reactions_version = part.version
  }
  let olderReactions = false
  if (ev.type !== 'reactions' && typeof part.reactions_version === 'number') {
    if (post.reactions_version !== undefined && part.reactions_version < post.reactions_version) olderReactions = true
    else out.reactions_version = part.reactions_version
  }
  let olderComments = false
  if (typeof part.comments_version === 'number') {
    if (typeof post.comments_version === 'number' && part.comments_version < post.comments_version) olderComments = true
    else out.comments_version = part.comments_version
  }
  // A whole post (a snapshot) that says which stats it holds must not undo
  // newer ones heard since it was read.
  let olderStats = false
  if (ev.type !== 'stats' && typeof part.stats_version === 'number') {
    if (post.stats_version !== undefined && part.stats_version < post.stats_version) olderStats = true
    else out.stats_version = part.stats_version
  }
  for (const k of POST_FIELDS) {
    if (k === 'stats' && olderStats) continue
    if (k === 'reactions' && olderReactions) continue
    if (k === 'comment_count' && olderComments) continue
    if (k in part && part[k] !== undefined) {
      ;(out as unknown as Record<string, unknown>)[k] = part[k]
      changed = true
    }
  }
  // The status message of a culled post names its run (`run`), not its
  // rank or time: the banner can link to the run at once, and the page
  // reads the post again for the rest (see needsCullDetail).
  if (out.status === 'culled' && (typeof part.run === 'string' || typeof part.run === 'number') && part.run !== '') {
    const run = String(part.run)
    if (!out.culled || out.culled.run_id === undefined || out.culled.run_id === '') {
      out.culled = { ...(out.culled ?? {}), run_id: run }
      changed = true
    }
  }
  if (/cull/.test(ev.type) && out.status !== 'culled') {
    out.status = 'culled'
    if (!out.culled && isObject(data)) out.culled = data as Post['culled']
    changed = true
  }
  if (/remov/.test(ev.type) && out.status !== 'removed') {
    out.status = 'removed'
    changed = true
  }
  return { post: out, changed }
}

export interface FeedEvent {
  // A new post to announce ("N new posts").
  added?: Post
  // The newest posts, from a snapshot: those the list has not seen are new
  // too (they may have arrived between the list's load and the subscription).
  latest?: Post[]
  // Every post id the snapshot listed (latest keeps only usable posts).
  snapshotIds?: string[]
  // Posts that left circulation (culled, removed, deleted).
  removedIds: string[]
}

// feedEvent reads a message of channel posts:new.
export function feedEvent(ev: LiveEvent): FeedEvent {
  const data = ev.data
  if (ev.type === 'snapshot') {
    const items = isObject(data) && Array.isArray(data.items) ? data.items : Array.isArray(data) ? data : []
    const latest = items.filter((p): p is Post => isObject(p) && p.id !== undefined && isObject(p.author) && (p.status === undefined || p.status === 'ready')) as Post[]
    const snapshotIds = items.flatMap((p) => (isObject(p) && p.id !== undefined ? [String(p.id)] : []))
    return { removedIds: [], latest, snapshotIds }
  }
  if (ev.type === 'resync' || ev.type === 'error') return { removedIds: [] }
  const ids = (x: unknown): string[] => {
    if (!isObject(x)) return []
    if (Array.isArray(x.ids)) return x.ids.map(String)
    if (Array.isArray(x.post_ids)) return x.post_ids.map(String)
    if (Array.isArray(x.posts)) return x.posts.map((p) => String(isObject(p) ? p.id : p))
    const one = x.post_id ?? (isObject(x.post) ? x.post.id : x.id)
    return one !== undefined ? [String(one)] : []
  }
  if (/gone|cull|remov|delet/.test(ev.type)) return { removedIds: ids(data) }
  const p = postPart(data)
  if (p && p.id !== undefined && isObject(p.author)) {
    const post = p as unknown as Post
    if (post.status && post.status !== 'ready') return { removedIds: post.status === 'culled' || post.status === 'removed' ? [String(post.id)] : [] }
    return { added: post, removedIds: [] }
  }
  return { removedIds: [] }
}
