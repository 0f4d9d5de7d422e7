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

// Reread runs `read` on request, at most one at a time: request() waits
// `delayMs` (requests meanwhile join it), and a request made while a read
// is on its way runs one more read once it is done — what changed while it
// was read may not be in its answer.
export class Reread {
  private timer: ReturnType<typeof setTimeout> | null = null
  private inFlight = false
  private again = false
  private stopped = false
  constructor(
    private read: () => Promise<unknown>,
    private delayMs = 500,
  ) {}

  // request: read again soon.
  request(): void {
    if (this.stopped || this.timer) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.now()
    }, this.delayMs)
  }

  // now: read again at once, or right after the read on its way.
  now(): void {
    if (this.stopped) return
    if (this.inFlight) {
      this.again = true
      return
    }
    this.inFlight = true
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
        if (this.again) {
          this.again = false
          this.request()
        }
      })
  }

  // start: take requests again after stop() (a remount).
  start(): void {
    this.stopped = false
  }

  get busy(): boolean {
    return this.inFlight || this.timer !== null
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}
