// The comments of the post page: the list read page by page over REST, and
// the comments heard live (or posted from the page).
//
// The list is only the list: the post's comment_count is the post's own,
// read with it and moved by the live comment messages, which carry the
// count their change left and the comments_version after it, so that a
// count never takes a comment twice or loses one however the post reads,
// the snapshots and the messages interleave (merge.applyPostEvent,
// postStore.putPost). The list cannot be the count: it is read apart from
// the post, a page at a time.

import type { Comment, Page } from '../api/types'

export interface Thread {
  // Oldest first, as the API lists them.
  comments: Comment[]
  // The next page to read, if any.
  cursor: string | null
  // Comments heard live or posted here, by when (on clock).
  heardAt: ReadonlyMap<string, number>
  // Comments deleted, heard live or here.
  removed: ReadonlySet<string>
  clock: number
}

export const emptyThread: Thread = {
  comments: [],
  cursor: null,
  heardAt: new Map(),
  removed: new Set(),
  clock: 0,
}

const byId = (a: Comment, b: Comment) => Number(a.id) - Number(b.id)

// threadMark is taken before the comments are requested and given to
// withPage with the answer.
export function threadMark(t: Thread): number {
  return t.clock
}

// withPage folds in a page of comments: the first page (cursor null)
// replaces the list, keeping what was heard after the request was sent
// (the read may have missed it); a later page is added to it.
export function withPage(t: Thread, page: Page<Comment>, first: boolean, since: number): Thread {
  const read = page.items.filter((c) => !t.removed.has(String(c.id)))
  const seen = new Set(read.map((c) => String(c.id)))
  const kept = first
    ? t.comments.filter((c) => !seen.has(String(c.id)) && (t.heardAt.get(String(c.id)) ?? -1) > since)
    : t.comments.filter((c) => !seen.has(String(c.id)))
  return { ...t, comments: [...kept, ...read].sort(byId), cursor: page.next_cursor }
}

// heardComment adds a comment heard live or posted from the page, once.
export function heardComment(t: Thread, c: Comment): Thread {
  const id = String(c.id)
  if (t.removed.has(id)) return t
  const clock = t.clock + 1
  const heardAt = new Map(t.heardAt).set(id, clock)
  const has = t.comments.some((x) => String(x.id) === id)
  const comments = has ? t.comments : [...t.comments, c].sort(byId)
  return { ...t, comments, heardAt, clock }
}

// lostComment takes out a deleted comment, for good: a message about its
// addition published after the deletion's does not bring it back.
export function lostComment(t: Thread, id: string): Thread {
  if (t.removed.has(id)) return t
  const removed = new Set(t.removed).add(id)
  return { ...t, comments: t.comments.filter((c) => String(c.id) !== id), removed, clock: t.clock + 1 }
}
