// The comments of the post page: the list read page by page over REST, the
// comments heard live (or posted from the page), and what the post's
// comment_count should say.
//
// The count a post read gives is right as of that read, but the comments
// list is read separately, a moment earlier or later: a comment committed
// in between may be in the list and not in the count. So comments read in
// the list are never taken to be in the count; only comments heard live or
// posted here move it, once each. And when the list holds every comment
// (its last page has been read) the list is the count.
//
// What this cannot tell: whether the count already has a comment heard
// live. A count read (the post over REST, or the post:<id> snapshot, whose
// version is taken before its state is read) can include a comment whose
// message comes after it, and nothing says so — the count carries no
// version or last comment id, and neither the list (read at another moment:
// it may be newer than the count, as when "More comments" lists comments
// that came after the post was read) nor the comment's id or created_at
// (stamped when its transaction began, on the database's clock) orders the
// comment against the count's read. Such a comment is counted twice until
// the next read of the post, or until the list is complete. Making it exact
// needs the server: a comments version on the Post and on comment messages,
// as reactions have.

import type { Comment, Page } from '../api/types'

export interface Thread {
  // Oldest first, as the API lists them.
  comments: Comment[]
  // The next page to read, if any.
  cursor: string | null
  // A first page was read and no page is left: comments is all of them.
  complete: boolean
  // Comments heard live or posted here, by when (on clock).
  heardAt: ReadonlyMap<string, number>
  // Comments whose addition or deletion the count has taken.
  counted: ReadonlySet<string>
  removed: ReadonlySet<string>
  clock: number
}

export const emptyThread: Thread = {
  comments: [],
  cursor: null,
  complete: false,
  heardAt: new Map(),
  counted: new Set(),
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
  return { ...t, comments: [...kept, ...read].sort(byId), cursor: page.next_cursor, complete: page.next_cursor === null }
}

export interface ThreadChange {
  thread: Thread
  // The post's comment_count moves by one (up for heardComment, down for
  // lostComment).
  counts: boolean
}

// heardComment adds a comment heard live or posted from the page.
export function heardComment(t: Thread, c: Comment): ThreadChange {
  const id = String(c.id)
  if (t.removed.has(id)) return { thread: t, counts: false }
  const clock = t.clock + 1
  const heardAt = new Map(t.heardAt).set(id, clock)
  const has = t.comments.some((x) => String(x.id) === id)
  const comments = has ? t.comments : [...t.comments, c].sort(byId)
  const counts = !t.counted.has(id)
  const counted = counts ? new Set(t.counted).add(id) : t.counted
  return { thread: { ...t, comments, heardAt, counted, clock }, counts }
}

// lostComment takes out a deleted comment.
export function lostComment(t: Thread, id: string): ThreadChange {
  if (t.removed.has(id)) return { thread: t, counts: false }
  const removed = new Set(t.removed).add(id)
  return { thread: { ...t, comments: t.comments.filter((c) => String(c.id) !== id), removed, clock: t.clock + 1 }, counts: true }
}

// commentCount is the number to show, given the post's comment_count.
export function commentCount(t: Thread, held: number): number {
  return t.complete ? t.comments.length : held
}
