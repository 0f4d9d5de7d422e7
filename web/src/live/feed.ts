// FeedLive folds the posts:new channel into one feed list (the Feed page):
// which posts to announce behind the "N new posts" bar, and which to hide.
//
// - Messages heard before the list's first page is in (and, on Hot and Top,
//   the newest post overall, the baseline of "new") are kept and played
//   once it is: the page may have been read before them.
// - A `gone` message may be missed while the socket reconnects; the server
//   then sends a snapshot, which lists the newest ready posts and nothing
//   about removals. A post the list holds whose id lies within the
//   snapshot's ids and that it does not list is no longer ready: it was
//   culled, removed or deleted (a ready post never goes back to
//   processing). If the list was read after the snapshot, such a post may
//   instead have become ready in between; its `new` message, published
//   after the snapshot, shows it again.

import type { Post } from '../api/types'
import { normalizeTag } from '../lib/tags'
import type { LiveEvent } from './LiveClient'
import { feedEvent } from './merge'

// The posts:new snapshot lists this many posts (docs/realtime.md): one that
// lists fewer lists every ready post.
const NEW_SNAPSHOT_SIZE = 20

export interface FeedChange {
  // Posts to announce behind the bar.
  fresh: Post[]
  // Posts to hide (and take off the bar).
  gone: string[]
  // Posts hidden on a snapshot's word that are up after all: show them.
  back: string[]
}

const NONE: FeedChange = { fresh: [], gone: [], back: [] }

export const idNum = (id: string) => Number(id) || 0

export class FeedLive {
  private tag = ''
  private newest = 0 // the highest post id the list has seen
  private known = new Set<string>() // posts the list holds or held
  private announced = new Set<string>() // posts put behind the bar
  private dead = new Set<string>() // posts a message said are gone
  private guessed = new Set<string>() // posts hidden because a snapshot left them out
  private early: LiveEvent[] | null = []
  private waiting = { page: true, baseline: false }
  private accept: ((p: Post) => boolean) | null = null

  // reset starts a new list; baseline: "new" means newer than the newest
  // post overall, which baselineIn gives (Hot and Top), not than the list.
  // accept, if given, says which posts heard live belong to the list (the
  // Following feed: posts by people the viewer follows); it is asked when
  // a message is played, so it may learn more in the meantime.
  reset(tag: string, baseline: boolean, accept?: (p: Post) => boolean): void {
    // As posts carry their tags: normalised as the server does.
    this.tag = normalizeTag(tag)
    this.accept = accept ?? null
    this.newest = 0
    this.known = new Set()
    this.announced = new Set()
    this.dead = new Set()
    this.guessed = new Set()
    this.early = []
    this.waiting = { page: true, baseline }
  }

  // saw: posts the list holds now (a later page, or posts let in from the
  // bar).
  saw(posts: Post[]): void {
    for (const p of posts) {
      this.known.add(p.id)
      this.newest = Math.max(this.newest, idNum(p.id))
    }
  }

  // pageIn: a first page is in.
  pageIn(posts: Post[]): FeedChange {
    this.saw(posts)
    this.waiting.page = false
    return this.playEarly()
  }

  // baselineIn: the newest post overall (none if it could not be read).
  baselineIn(posts: Post[]): FeedChange {
    for (const p of posts) this.newest = Math.max(this.newest, idNum(p.id))
    this.waiting.baseline = false
    return this.playEarly()
  }

  // freshOf: the posts among these that are new to the list (and not
  // announced yet); they count as announced from now on.
  freshOf(posts: Post[]): Post[] {
    if (this.early) return []
    const out: Post[] = []
    for (const p of posts) {
      if (this.tag && !p.tags.includes(this.tag)) continue
      if (idNum(p.id) <= this.newest || this.known.has(p.id) || this.announced.has(p.id) || this.dead.has(p.id)) continue
      this.announced.add(p.id)
      out.push(p)
    }
    return out
  }

  event(ev: LiveEvent): FeedChange {
    if (ev.type === 'resync' || ev.type === 'error') return NONE
    if (this.early) {
      this.early.push(ev)
      return NONE
    }
    const f = feedEvent(ev)
    const out: FeedChange = { fresh: [], gone: [], back: [] }
    for (const id of f.removedIds) {
      this.dead.add(id)
      this.guessed.delete(id)
      out.gone.push(id)
    }
    const heard = [...(f.added ? [f.added] : []), ...(f.latest ?? [])]
    for (const p of heard) {
      if (this.guessed.delete(p.id)) {
        this.announced.delete(p.id)
        out.back.push(p.id)
      }
    }
    if (f.snapshotIds) {
      for (const id of this.unlisted(f.snapshotIds)) {
        this.guessed.add(id)
        out.gone.push(id)
      }
    }
    const accept = this.accept
    out.fresh = this.freshOf(accept ? heard.filter(accept) : heard)
    return out
  }

  // unlisted: the posts of the list that a snapshot listing ids should
  // have listed, were they still up.
  private unlisted(ids: string[]): string[] {
    if (!ids.length) return []
    const listed = new Set(ids)
    const nums = ids.map(idNum)
    const hi = Math.max(...nums)
    const lo = ids.length < NEW_SNAPSHOT_SIZE ? 0 : Math.min(...nums)
    return [...new Set([...this.known, ...this.announced])].filter((id) => {
      const n = idNum(id)
      return n >= lo && n <= hi && !listed.has(id) && !this.dead.has(id) && !this.guessed.has(id)
    })
  }

  private playEarly(): FeedChange {
    if (!this.early || this.waiting.page || this.waiting.baseline) return NONE
    const early = this.early
    this.early = null
    // One change for them all: a post hidden, then shown again (or the
    // other way round) ends as the last message left it.
    const state = new Map<string, 'gone' | 'back'>()
    const fresh: Post[] = []
    for (const ev of early) {
      const c = this.event(ev)
      for (const id of c.gone) state.set(id, 'gone')
      for (const id of c.back) state.set(id, 'back')
      fresh.push(...c.fresh)
    }
    const ids = (s: 'gone' | 'back') => [...state].filter(([, v]) => v === s).map(([id]) => id)
    return { fresh: fresh.filter((p) => state.get(p.id) !== 'gone'), gone: ids('gone'), back: ids('back') }
  }
}
