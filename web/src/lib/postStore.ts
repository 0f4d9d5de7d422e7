// One copy of each post the UI shows, shared by every component showing it,
// so a rating, a reaction or a live update changes it everywhere at once.

import { useSyncExternalStore } from 'react'
import type { Post } from '../api/types'

const posts = new Map<string, Post>()
const subs = new Map<string, Set<() => void>>()
// When each post's stats last changed through updatePost (a live message),
// on a clock that liveMark reads.
const statsHeard = new Map<string, number>()
// A post's status changed through updatePost (a live status message: a
// cull, a removal): when (on the same clock), and the stats_version the
// store held then. The change raised the post's rank version on the server
// (stats_version), but the message does not say to what: a copy whose
// stats_version is no higher than the one held then was read before it.
const statusHeard = new Map<string, { at: number; version: number | undefined }>()
let clock = 0

function notify(id: string) {
  for (const fn of subs.get(id) ?? []) fn()
}

// liveMark is taken just before a post is requested over REST and handed to
// putPost with the answer: stats heard live after it may be newer than the
// answer's.
export function liveMark(): number {
  return clock
}

// olderStats says whether p's stats may be older than those the store has.
// Every Post the server sends carries stats_version, and a copy is compared
// by it. A copy without one (from a server older than the field, during a
// rolling upgrade) loses only to stats heard live while it was on its way:
// those may be newer, and their own message will not come again, whereas a
// live message older than the copy is followed by the newer one it missed.
function olderStats(old: Post, p: Post, since: number | undefined): boolean {
  if (typeof p.stats_version === 'number') return typeof old.stats_version === 'number' && old.stats_version > p.stats_version
  return since !== undefined && (statsHeard.get(p.id) ?? -1) > since
}

// olderReactions says whether p's reaction counts are older than those the
// store has (a REST answer read before a live reactions message arrived).
function olderReactions(old: Post, p: Post): boolean {
  return typeof p.reactions_version === 'number' && typeof old.reactions_version === 'number' && old.reactions_version > p.reactions_version
}

// olderComments says whether p's comment_count is older than the store's (a
// REST answer read before a comment heard live, which it would count out).
function olderComments(old: Post, p: Post): boolean {
  return typeof p.comments_version === 'number' && typeof old.comments_version === 'number' && old.comments_version > p.comments_version
}

// olderStatus says whether p's status (and what goes with it: ranks,
// removed, culled) may be older than the store's. The cull and removals
// raise the post's stats_version, so a copy with an older stats_version
// than the store's was read before any status change the store has; and a
// copy no newer than the store's stats_version when a live status change
// was heard was read before that change. A copy without stats_version
// loses to a status change heard live while it was on its way.
function olderStatus(old: Post, p: Post, since: number | undefined): boolean {
  const heard = statusHeard.get(p.id)
  if (typeof p.stats_version === 'number') {
    if (typeof old.stats_version === 'number' && old.stats_version > p.stats_version) return true
    return typeof heard?.version === 'number' && p.stats_version <= heard.version
  }
  return since !== undefined && heard !== undefined && heard.at > since
}

// settled: a post that is not ready (culled, removed, processing) holds no
// rank, as the API answers for it (ranks {}); a live message that culls or
// removes it says nothing of its ranks, so they are cleared here.
function settled(p: Post): Post {
  if (p.status === 'ready' || !p.ranks || Object.keys(p.ranks).length === 0) return p
  return { ...p, ranks: {} }
}

export function putPost(p: Post, since?: number): Post {
  const old = posts.get(p.id)
  // A list answer may lack the caller-specific fields of a fresher copy only
  // if it is older; the API always sends them, so the newer object wins.
  let merged = old ? { ...old, ...p, viewers: p.viewers ?? old.viewers } : p
  if (old && olderStats(old, p, since)) merged = { ...merged, stats: old.stats, stats_version: old.stats_version }
  // Nor an older copy undo a cull or a removal heard live (bringing back
  // "ready", the rank chips and the rating prompt).
  if (old && olderStatus(old, p, since)) merged = { ...merged, status: old.status, ranks: old.ranks, removed: old.removed, culled: old.culled }
  // The caller's own reactions (my_reactions) come from the answer: only
  // the counts are everyone's.
  if (old && olderReactions(old, p)) merged = { ...merged, reactions: old.reactions, reactions_version: old.reactions_version }
  if (old && olderComments(old, p)) merged = { ...merged, comment_count: old.comment_count, comments_version: old.comments_version }
  merged = settled(merged)
  posts.set(p.id, merged)
  notify(p.id)
  return merged
}

export function putPosts(ps: Post[], since?: number): void {
  for (const p of ps) putPost(p, since)
}

// putSharedPosts stores posts from a broadcast (live snapshots), which may
// have been read for another viewer: the caller's own rating and reactions
// are kept from the copy the store has.
export function putSharedPosts(ps: Post[]): void {
  for (const p of ps) {
    const old = posts.get(p.id)
    putPost(old ? { ...p, my_rating: old.my_rating, my_reactions: old.my_reactions } : p)
  }
}

// updatePost changes a post with what was heard live or done on this page;
// a change of its stats is taken as heard live (see liveMark).
export function updatePost(id: string, fn: (p: Post) => Post): void {
  const old = posts.get(id)
  if (!old) return
  const next = settled(fn(old))
  if (next.stats !== old.stats || next.stats_version !== old.stats_version) statsHeard.set(id, ++clock)
  if (next.status !== old.status) statusHeard.set(id, { at: ++clock, version: old.stats_version })
  posts.set(id, next)
  notify(id)
}

export function getPost(id: string): Post | undefined {
  return posts.get(id)
}

export function usePost(id: string): Post | undefined {
  return useSyncExternalStore(
    (fn) => {
      let s = subs.get(id)
      if (!s) subs.set(id, (s = new Set()))
      s.add(fn)
      return () => {
        s!.delete(fn)
        if (s!.size === 0) subs.delete(id)
      }
    },
    () => posts.get(id),
  )
}
