// Whom the signed-in user follows (their user ids), for the Following feed's
// live updates: posts:new carries every new post, and the feed keeps those
// whose author is in this set. Read once per session from
// GET /profiles/{me}/following (all pages), again after a while, and kept
// up to date by the follow buttons of this tab (noteFollow).

import { api, qs } from '../api/client'
import type { Page, Profile } from '../api/types'

const PAGE = 100 // the API's largest page
const MAX_PAGES = 50
export const STALE_MS = 5 * 60_000

interface State {
  user: string
  ids: Set<string>
  at: number
  loading: Promise<Set<string>> | null
  // Follows and unfollows noted in this tab while `loading` is on its way:
  // the answer may be older than them. They belong to that one read: done
  // or failed, it drops them (a note made after it is in `ids` already,
  // and replaying an older one on a later read would undo it).
  pending: Map<string, boolean>
}

let state: State | null = null

async function readAll(username: string): Promise<Set<string>> {
  const ids = new Set<string>()
  let cursor: string | null = null
  for (let i = 0; i < MAX_PAGES; i++) {
    const page: Page<Profile> = await api<Page<Profile>>(`/profiles/${encodeURIComponent(username)}/following` + qs({ cursor, limit: PAGE }))
    for (const p of page.items) ids.add(p.id)
    cursor = page.next_cursor
    if (!cursor) break
  }
  return ids
}

// loadFollowing returns the set for username, reading it if this session
// has not (or not lately, or for another user). A failed read leaves the
// set as it was (empty at first): the feed then announces nothing live and
// its poll still works.
export function loadFollowing(username: string, now = Date.now()): Promise<Set<string>> {
  if (state && state.user === username) {
    if (state.loading) return state.loading
    if (now - state.at < STALE_MS) return Promise.resolve(state.ids)
  }
  const s: State = state && state.user === username ? state : { user: username, ids: new Set(), at: 0, loading: null, pending: new Map() }
  state = s
  // This read's own notes: a read that ends after forgetFollowing, or
  // after another user's read began, touches no one else's.
  const pending = new Map<string, boolean>()
  s.pending = pending
  s.loading = readAll(username)
    .then((ids) => {
      // Follows and unfollows noted while the read was on its way may be
      // newer than the answer: they win.
      for (const [id, on] of pending) {
        if (on) ids.add(id)
        else ids.delete(id)
      }
      if (state === s) {
        s.ids = ids
        s.at = Date.now()
      }
      return ids
    })
    .catch(() => s.ids)
    .finally(() => {
      pending.clear()
      s.loading = null
    })
  return s.loading
}

// isFollowed: whether the signed-in user follows this user id, as far as
// this tab knows.
export function isFollowed(userId: string): boolean {
  return !!state?.ids.has(userId)
}

// noteFollow records a follow or unfollow done in this tab.
export function noteFollow(userId: string, on: boolean): void {
  if (!state) return
  if (on) state.ids.add(userId)
  else state.ids.delete(userId)
  if (state.loading) state.pending.set(userId, on)
}

// forgetFollowing drops the set (log out, another user).
export function forgetFollowing(): void {
  state = null
}
