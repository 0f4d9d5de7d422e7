import { describe, expect, it } from 'vitest'
import { commentCount, emptyThread, heardComment, lostComment, threadMark, withPage, type Thread } from './comments'
import type { Comment } from '../api/types'

const author = { id: '1', username: 'alice', display_name: 'Alice', photo_url: null }
const c = (id: number): Comment => ({ id: String(id), post_id: '12', author, body: `c${id}`, created_at: '2026-01-01T00:00:00Z' })
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => c(from + i))

// page plays the post page: held is the post's comment_count as the post
// read (or a snapshot) gave it, moved by the thread's changes.
function page() {
  let t: Thread = emptyThread
  let held = 0
  return {
    postRead(n: number) {
      held = n
    },
    mark: () => threadMark(t),
    commentsRead(items: Comment[], next: string | null, first = true, since = threadMark(t)) {
      t = withPage(t, { items, next_cursor: next }, first, since)
    },
    heard(x: Comment) {
      const r = heardComment(t, x)
      t = r.thread
      if (r.counts) held++
    },
    lost(id: number) {
      const r = lostComment(t, String(id))
      t = r.thread
      if (r.counts) held--
    },
    count: () => commentCount(t, held),
    ids: () => t.comments.map((x) => x.id),
  }
}

describe('comment count', () => {
  it('counts a comment committed between the post read and the comments read', () => {
    const p = page()
    p.postRead(2) // comments 1 and 2
    p.commentsRead([c(1), c(2), c(3)], null) // 3 committed meanwhile
    expect(p.count()).toBe(3)
    p.heard(c(3)) // its live message, after the snapshot
    expect(p.count()).toBe(3)
    expect(p.ids()).toEqual(['1', '2', '3'])
  })

  it('counts comments newer than the post read that a later page listed, when the list is longer than it shows', () => {
    const p = page()
    p.postRead(50)
    p.commentsRead(range(1, 50), 'c50')
    p.commentsRead(range(51, 100), 'c100', false) // "More comments": 51… came after the post read
    for (const x of range(51, 101)) p.heard(x) // their live messages
    expect(p.count()).toBe(101)
    p.heard(c(101)) // a second time (the page's own answer, then the message)
    expect(p.count()).toBe(101)
  })

  it('counts a comment posted here once, whichever of the answer and the message comes first', () => {
    const p = page()
    p.postRead(120)
    p.commentsRead(range(1, 50), 'c50')
    p.heard(c(121))
    p.heard(c(121))
    expect(p.count()).toBe(121)
    p.lost(121)
    p.lost(121)
    expect(p.count()).toBe(120)
  })

  it('a first page read again keeps what was heard after it was requested, and drops what was deleted', () => {
    const p = page()
    p.postRead(3)
    p.commentsRead([c(1), c(2), c(3)], null)
    const since = p.mark()
    p.heard(c(4)) // committed after the read below
    p.lost(2) // deleted after it
    p.commentsRead([c(1), c(2), c(3)], null, true, since)
    expect(p.ids()).toEqual(['1', '3', '4'])
    expect(p.count()).toBe(3)
  })

  it('a first page read again drops comments it no longer lists that were not heard since', () => {
    const p = page()
    p.postRead(3)
    p.commentsRead([c(1), c(2), c(3)], null)
    p.commentsRead([c(1), c(3)], null) // 2 was deleted while the socket was down
    expect(p.ids()).toEqual(['1', '3'])
    expect(p.count()).toBe(2)
  })
})
