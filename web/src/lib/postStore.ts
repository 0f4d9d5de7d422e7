// One copy of each post the UI shows, shared by every component showing it,
// so a rating, a reaction or a live update changes it everywhere at once.

import { useSyncExternalStore } from 'react'
import type { Post } from '../api/types'

const posts = new Map<string, Post>()
const subs = new Map<string, Set<() => void>>()

function notify(id: string) {
  for (const fn of subs.get(id) ?? []) fn()
}

export function putPost(p: Post): Post {
  const old = posts.get(p.id)
  // A list answer may lack the caller-specific fields of a fresher copy only
  // if it is older; the API always sends them, so the newer object wins.
  const merged = old ? { ...old, ...p, viewers: p.viewers ?? old.viewers } : p
  posts.set(p.id, merged)
  notify(p.id)
  return merged
}

export function putPosts(ps: Post[]): void {
  for (const p of ps) putPost(p)
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

export function updatePost(id: string, fn: (p: Post) => Post): void {
  const old = posts.get(id)
  if (!old) return
  posts.set(id, fn(old))
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
