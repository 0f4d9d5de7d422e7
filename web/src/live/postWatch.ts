// Following the live channels of the posts a list shows (post:<id>), and
// re-reading something over REST when they say it changed, without a burst
// of messages turning into a burst of requests.

import type { LiveEvent, LiveListener } from './LiveClient'

export type Subscribe = (ch: string, fn: LiveListener) => () => void

// The server allows 64 subscriptions per connection; a page that follows a
// list leaves room for the others (me, posts:new, a board, danger…).
export const MAX_POST_CHANNELS = 40

// PostWatch holds one subscription per post of a list: set() follows the
// first `max` ids given and drops those no longer given; stop() drops all.
export class PostWatch {
  private subs = new Map<string, () => void>()
  constructor(
    private subscribe: Subscribe,
    private onEvent: (id: string, ev: LiveEvent) => void,
    private max = MAX_POST_CHANNELS,
  ) {}

  set(ids: readonly string[]): void {
    const want = new Set<string>()
    for (const id of ids) {
      if (want.size >= this.max) break
      if (id) want.add(id)
    }
    for (const [id, off] of this.subs) {
      if (!want.has(id)) {
        this.subs.delete(id)
        off()
      }
    }
    for (const id of want) {
      if (!this.subs.has(id)) this.subs.set(id, this.subscribe(`post:${id}`, (ev) => this.onEvent(id, ev)))
    }
  }

  ids(): string[] {
    return [...this.subs.keys()]
  }

  stop(): void {
    this.set([])
  }
}

// Reread runs `read` on request, at most one at a time.
//
// request() asks for a read "soon": it waits `delayMs` plus a jitter of up to
// `jitterMs`, drawn once per Reread (once per page), so that the viewers of
// one page who all hear the same message do not all read at the same
// moment; requests meanwhile join it. It is dropped when a read started
// since it was made (that read's answer has what the request was for), and
// it is not even made within `freshMs` of a read started by now({fresh:
// true}) — a read of the page's own channel's "changed", which says again
// within a tick when the page changes, so a request for the same news can
// wait for it.
//
// now() reads at once, or right after the read on its way: what changed
// while it was read may not be in its answer. That one more read waits
// `againMs`, and is never dropped.
export interface RereadOptions {
  delayMs?: number
  jitterMs?: number
  freshMs?: number
  againMs?: number
  // For tests: a number in [0, 1) (Math.random) and the time (Date.now).
  random?: () => number
  clock?: () => number
}

export class Reread {
  private timer: ReturnType<typeof setTimeout> | null = null
  private inFlight = false
  private again = false
  private againFresh = false
  private stopped = false
  // The order of events: when the request the timer waits for was made and
  // when the last read started. And when the last fresh read started (on
  // clock).
  private seq = 0
  private requestedAt = 0
  private lastStart = 0
  private lastFresh = -Infinity
  private readonly delay: number
  private readonly freshMs: number
  private readonly againMs: number
  private readonly clock: () => number

  constructor(
    private read: () => Promise<unknown>,
    opts: number | RereadOptions = {},
  ) {
    const o: RereadOptions = typeof opts === 'number' ? { delayMs: opts } : opts
    const jitter = (o.jitterMs ?? 0) * (o.random ?? Math.random)()
    this.delay = Math.round((o.delayMs ?? 500) + jitter)
    this.freshMs = o.freshMs ?? 0
    this.againMs = o.againMs ?? o.delayMs ?? 500
    this.clock = o.clock ?? Date.now
  }

  // delayMs: how long a request waits here (the delay and this page's jitter).
  get delayMs(): number {
    return this.delay
  }

  // request: read again soon, unless a fresh read has just been made.
  request(): void {
    if (this.stopped || this.timer) return
    if (this.clock() - this.lastFresh < this.freshMs) return
    this.requestedAt = ++this.seq
    this.timer = setTimeout(() => {
      this.timer = null
      // A read started since the request answers it.
      if (this.lastStart > this.requestedAt) return
      this.now()
    }, this.delay)
  }

  // now: read again at once, or right after the read on its way. A fresh
  // read (the page's own channel said it changed) lets requests skip for a
  // while (freshMs).
  now(opts: { fresh?: boolean } = {}): void {
    if (this.stopped) return
    if (this.inFlight) {
      this.again = true
      if (opts.fresh) this.againFresh = true
      return
    }
    this.begin(opts.fresh === true)
  }

  private begin(fresh: boolean): void {
    this.inFlight = true
    this.lastStart = ++this.seq
    if (fresh) this.lastFresh = this.clock()
    let p: Promise<unknown>
    try {
      p = Promise.resolve(this.read())
    } catch (e) {
      p = Promise.reject(e)
    }
    void p
      .catch(() => {
        /* the reader reports its own errors */
      })
      .finally(() => {
        this.inFlight = false
        if (this.again && !this.stopped) {
          const fresh = this.againFresh
          this.again = false
          this.againFresh = false
          // The one more read replaces a request waiting meanwhile.
          if (this.timer) clearTimeout(this.timer)
          this.timer = setTimeout(() => {
            this.timer = null
            this.now({ fresh })
          }, this.againMs)
        }
      })
  }

  // start: take requests again after stop() (a remount).
  start(): void {
    this.stopped = false
  }

  stop(): void {
    this.stopped = true
    this.again = false
    this.againFresh = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}

// Jittered runs `fn` once, a random wait of minMs to maxMs after the first
// of a burst of fire() calls; calls made while it waits join it. Each call
// to fire() after it ran draws a new wait. For a message every viewer of a
// page hears at the same moment (the danger channel's "changed" after a
// cull) that makes each of them read: they spread their reads over the
// window instead of all reading at once, and several messages make one
// read.
export interface JitterOptions {
  minMs: number
  maxMs: number
  // For tests: a number in [0, 1) (Math.random).
  random?: () => number
}

export class Jittered {
  private timer: ReturnType<typeof setTimeout> | null = null
  constructor(
    private fn: () => void,
    private opts: JitterOptions,
  ) {}

  // pending: a run is waiting.
  get pending(): boolean {
    return this.timer !== null
  }

  fire(): void {
    if (this.timer) return
    const { minMs, maxMs, random = Math.random } = this.opts
    const wait = Math.round(minMs + Math.max(0, maxMs - minMs) * random())
    this.timer = setTimeout(() => {
      this.timer = null
      this.fn()
    }, wait)
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}
