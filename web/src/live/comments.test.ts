import { describe, expect, it } from 'vitest'
import { emptyThread, heardComment, lostComment, threadMark, withPage, type Thread } from './comments'
import { applyPostEvent } from './merge'
import { getPost, putPost, updatePost } from '../lib/postStore'
import type { Comment } from '../api/types'
import { makePost } from '../test/fixtures'

const author = { id: '1', username: 'alice', display_name: 'Alice', photo_url: null }
const c = (id: number): Comment => ({ id: String(id), post_id: '12', author, body: `c${id}`, created_at: '2026-01-01T00:00:00Z' })
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => c(from + i))

// page plays the post page: the post in the store (read over REST, moved by
// live messages) and the thread of comments beside it.
function page() {
  const id = makePost().id
  let t: Thread = emptyThread
  const message = (type: string, data: unknown) => {
    let comment: Comment | undefined
    let deleted: string | undefined
    updatePost(id, (p) => {
      const r = applyPostEvent(p, { ch: `post:${id}`, type, v: 1, data })
      comment = r.comment
      deleted = r.deletedCommentId
      return r.post
    })
    if (comment) t = heardComment(t, comment)
    if (deleted) t = lostComment(t, deleted)
  }
  return {
    // The post read over REST (or a snapshot): its count at its version.
    postRead(count: number, version: number) {
      putPost(makePost({ id, comment_count: count, comments_version: version }))
    },
    mark: () => threadMark(t),
    commentsRead(items: Comment[], next: string | null, first = true, since = threadMark(t)) {
      t = withPage(t, { items, next_cursor: next }, first, since)
    },
    // The live messages, with the count their change left at its version.
    heard(x: Comment, count: number, version: number) {
      message('comment', { ...x, comment_count: count, comments_version: version })
    },
    lost(x: number, count: number, version: number) {
      message('comment_deleted', { id: String(x), comment_count: count, comments_version: version })
    },
    // What the page does with its own answers.
    posted(x: Comment) {
      t = heardComment(t, x)
    },
    deleted(x: number) {
      t = lostComment(t, String(x))
    },
    count: () => getPost(id)!.comment_count,
    ids: () => t.comments.map((x) => x.id),
    message,
  }
}

describe('comment count', () => {
  it('does not count twice a comment the post read already has, in a thread longer than a page', () => {
    const p = page()
    p.postRead(60, 60) // comment 60 is in the count
    p.commentsRead(range(1, 50), 'c50')
    p.heard(c(60), 60, 60) // its message, heard after the read
    expect(p.count()).toBe(60)
    p.heard(c(61), 61, 61)
    p.heard(c(61), 61, 61) // the same message twice
    expect(p.count()).toBe(61)
    // Listed once each, and the next pages fill in between.
    p.commentsRead(range(51, 61), null, false)
    expect(p.ids()).toEqual(range(1, 61).map((x) => x.id))
    expect(p.count()).toBe(61)
  })

  it('does not lose a comment heard while an older read of the post was on its way', () => {
    const p = page()
    p.postRead(50, 50)
    p.commentsRead(range(1, 50), 'c50')
    p.heard(c(51), 51, 51)
    p.postRead(50, 50) // read before comment 51, answered after its message
    expect(p.count()).toBe(51)
    p.postRead(53, 54) // read later: two more and a deletion since
    expect(p.count()).toBe(53)
  })

  it('keeps the newest count when concurrent comments are published out of order', () => {
    const p = page()
    p.postRead(10, 12)
    p.heard(c(14), 12, 14)
    p.heard(c(13), 11, 13) // committed first, published second
    expect(p.count()).toBe(12)
    expect(p.ids()).toEqual(['13', '14'])
    // A deletion published before the addition it undoes.
    p.lost(15, 11, 16)
    p.heard(c(15), 12, 15)
    expect(p.count()).toBe(11)
    expect(p.ids()).toEqual(['13', '14'])
  })

  it('counts a comment posted or deleted here once, whichever of the answer and the message comes first', () => {
    const p = page()
    p.postRead(120, 130)
    p.commentsRead(range(1, 50), 'c50')
    p.posted(c(121)) // the answer: listed, counted by its message
    expect(p.ids()).toContain('121')
    p.heard(c(121), 121, 131)
    p.posted(c(121))
    expect(p.count()).toBe(121)
    p.heard(c(122), 122, 132) // the message first this time
    p.posted(c(122))
    expect(p.count()).toBe(122)
    p.deleted(121)
    p.lost(121, 121, 133)
    p.lost(121, 121, 133)
    expect(p.count()).toBe(121)
    expect(p.ids()).not.toContain('121')
  })

  it('moves the count by one per message from a server without comments_version', () => {
    const p = page()
    p.postRead(3, 0)
    p.message('comment', c(4))
    p.message('comment_deleted', { id: '2' })
    p.message('comment', c(5))
    expect(p.count()).toBe(4)
  })
})

describe('comment list', () => {
  it('a first page read again keeps what was heard after it was requested, and drops what was deleted', () => {
    const p = page()
    p.postRead(3, 3)
    p.commentsRead([c(1), c(2), c(3)], null)
    const since = p.mark()
    p.heard(c(4), 4, 4) // committed after the read below
    p.lost(2, 3, 5) // deleted after it
    p.commentsRead([c(1), c(2), c(3)], null, true, since)
    expect(p.ids()).toEqual(['1', '3', '4'])
    expect(p.count()).toBe(3)
  })

  it('a first page read again drops comments it no longer lists that were not heard since', () => {
    const p = page()
    p.postRead(3, 3)
    p.commentsRead([c(1), c(2), c(3)], null)
    p.commentsRead([c(1), c(3)], null) // 2 was deleted while the socket was down
    expect(p.ids()).toEqual(['1', '3'])
  })
})
