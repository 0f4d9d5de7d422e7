// LiveClient: the browser's one WebSocket to /ws (protocol: docs/realtime.md,
// DESIGN.md §7).
//
//   client → server  {"type":"auth","token":…}
//                    {"type":"subscribe","ch":"post:12","v":41}   (v: last version seen, optional)
//                    {"type":"unsubscribe","ch":"post:12"}
//                    {"type":"ping"}
//   server → client  {"ch":"post:12","type":"snapshot"|…,"v":42,"data":…}
//                    {"type":"error","code":…,"message":…,"ch"?:…}
//
// What it adds on top of a socket:
//   - one subscription per channel however many listeners it has;
//   - per-channel versions: an update older than (or as old as) the last one
//     is dropped; a gap (see GapDetection) makes the client re-subscribe for a
//     fresh snapshot, and listeners get a "resync" event (so they can refetch
//     over REST meanwhile); updates before the snapshot are dropped;
//   - reconnection with exponential backoff and jitter, re-authentication and
//     re-subscription with the last versions; a "reconnecting" state;
//   - pings, and a connection that stays silent too long is replaced;
//   - an optional probe: after a few attempts that never opened it asks
//     whether the server has a WebSocket endpoint at all; if not, the state is
//     "unavailable" (the UI polls instead) and the probe, not the socket, is
//     retried now and then, so the console does not fill with errors.

export interface SocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onclose: ((ev: { code?: number; reason?: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
}

export type LiveState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'unavailable' | 'closed'

export interface LiveMessage<T = unknown> {
  ch: string
  type: string
  v?: number
  // The version of the channel's previous update, when the server sends it.
  prev?: number
  data?: T
  code?: string
  message?: string
}

// Events a listener receives: the server's messages that passed the version
// checks, plus "resync" (a gap was seen or the connection was lost; a
// snapshot is on its way, meanwhile the listener may refetch) and "error"
// (the server refused the subscription).
export type LiveEvent = LiveMessage

export type LiveListener = (ev: LiveEvent) => void

export interface BackoffOptions {
  initialMs: number
  maxMs: number
  factor: number
  // Fraction of the delay that is randomised: 0.2 → ±20 %.
  jitter: number
}

// How a gap (a missed update) is recognised:
//   'prev'        an update carries `prev`, the version of the update before
//                 it on the channel; prev newer than the last version this
//                 client holds means one was missed. Updates without `prev`
//                 only need to be newer (versions that are timestamps, as
//                 Jokster's server sends, are increasing but not contiguous).
//   'contiguous'  versions count 1, 2, 3…: any skipped number is a gap.
export type GapDetection = 'prev' | 'contiguous'

export interface LiveClientOptions {
  url: string | (() => string)
  createSocket?: (url: string) => SocketLike
  getToken?: () => string | null
  // Resolves false when the server has no WebSocket endpoint. Called after
  // connections keep failing without ever opening (and before the first one
  // with probeFirst).
  probe?: () => Promise<boolean>
  probeFirst?: boolean
  backoff?: Partial<BackoffOptions>
  random?: () => number
  pingIntervalMs?: number
  // A connection with no frame from the server for this long is replaced.
  idleTimeoutMs?: number
  // A connection open this long (or that got a frame) resets the backoff.
  stableAfterMs?: number
  // Connection attempts that never open before probing again.
  failuresBeforeProbe?: number
  // How long to wait before probing again when the endpoint is missing.
  unavailableRetryMs?: number
  gapDetection?: GapDetection
  // How long to wait before subscribing again to a channel the server could
  // not serve (error code "unavailable").
  resubscribeMs?: number
}

interface Channel {
  listeners: Set<LiveListener>
  version: number | null
  awaitingSnapshot: boolean
  refused: boolean
}

const OPEN = 1

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 }

export class LiveClient {
  private opts: Required<Omit<LiveClientOptions, 'probe' | 'backoff'>> & { probe?: () => Promise<boolean>; backoff: BackoffOptions }
  private retryTimers = new Map<string, ReturnType<typeof setTimeout>>()
  private socket: SocketLike | null = null
  private channels = new Map<string, Channel>()
  private stateListeners = new Set<(s: LiveState) => void>()
  private _state: LiveState = 'idle'
  private started = false
  private attempt = 0
  private failuresWithoutOpen = 0
  private everOpened = false
  private timers: { reconnect?: ReturnType<typeof setTimeout>; ping?: ReturnType<typeof setInterval>; idle?: ReturnType<typeof setTimeout>; stable?: ReturnType<typeof setTimeout> } = {}
  private lastToken: string | null = null

  constructor(options: LiveClientOptions) {
    this.opts = {
      url: options.url,
      createSocket: options.createSocket ?? ((u) => new WebSocket(u) as unknown as SocketLike),
      getToken: options.getToken ?? (() => null),
      probe: options.probe,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
      random: options.random ?? Math.random,
      pingIntervalMs: options.pingIntervalMs ?? 25_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 70_000,
      stableAfterMs: options.stableAfterMs ?? 5_000,
      failuresBeforeProbe: options.failuresBeforeProbe ?? 3,
      unavailableRetryMs: options.unavailableRetryMs ?? 120_000,
      gapDetection: options.gapDetection ?? 'prev',
      probeFirst: options.probeFirst ?? false,
      resubscribeMs: options.resubscribeMs ?? 3_000,
    }
  }

  get state(): LiveState {
    return this._state
  }

  // The version last seen on a channel, or null before its snapshot.
  version(ch: string): number | null {
    return this.channels.get(ch)?.version ?? null
  }

  onState(fn: (s: LiveState) => void): () => void {
    this.stateListeners.add(fn)
    return () => {
      this.stateListeners.delete(fn)
    }
  }

  start(): void {
    if (this.started) return
    this.started = true
    if (this.opts.probe && this.opts.probeFirst) void this.probeThenConnect()
    else this.connect()
  }

  stop(): void {
    this.started = false
    this.clearTimers()
    const s = this.socket
    this.socket = null
    if (s) {
      s.onclose = s.onmessage = s.onerror = s.onopen = null
      try {
        s.close(1000, 'bye')
      } catch {
        /* already closed */
      }
    }
    this.setState('closed')
  }

  // Drop the connection and connect again at once (after coming back
  // online, or to shed an identity after logging out).
  reconnectNow(): void {
    if (!this.started) return
    this.attempt = 0
    this.failuresWithoutOpen = 0
    if (this.timers.reconnect) clearTimeout(this.timers.reconnect)
    this.timers.reconnect = undefined
    const s = this.socket
    if (s) {
      this.socket = null
      s.onclose = s.onmessage = s.onerror = s.onopen = null
      try {
        s.close(1000, 'reconnect')
      } catch {
        /* ignore */
      }
      this.stopConnectionTimers()
      this.resyncAll()
    }
    if (this._state === 'unavailable' && this.opts.probe) void this.probeThenConnect()
    else this.connect()
  }

  // A new access token (after log-in or a refresh): sent at once when the
  // socket is open, and on every (re)connection.
  setToken(token: string | null): void {
    const had = this.lastToken
    this.lastToken = token
    if (token && token !== had && this.send({ type: 'auth', token })) {
      // Channels refused for want of a (fresh) token get another try.
      for (const [ch, c] of this.channels) {
        if (c.refused) {
          c.refused = false
          c.awaitingSnapshot = true
          this.send({ type: 'subscribe', ch })
        }
      }
    }
  }

  subscribe(ch: string, fn: LiveListener): () => void {
    let c = this.channels.get(ch)
    if (!c) {
      c = { listeners: new Set(), version: null, awaitingSnapshot: true, refused: false }
      this.channels.set(ch, c)
      this.send({ type: 'subscribe', ch })
    }
    c.listeners.add(fn)
    return () => {
      const cur = this.channels.get(ch)
      if (!cur) return
      cur.listeners.delete(fn)
      if (cur.listeners.size === 0) {
        this.channels.delete(ch)
        const t = this.retryTimers.get(ch)
        if (t) clearTimeout(t)
        this.retryTimers.delete(ch)
        this.send({ type: 'unsubscribe', ch })
      }
    }
  }

  // ---------------------------------------------------------------- internals

  private setState(s: LiveState) {
    if (this._state === s) return
    this._state = s
    for (const fn of this.stateListeners) fn(s)
  }

  private send(msg: Record<string, unknown>): boolean {
    const s = this.socket
    if (!s || s.readyState !== OPEN) return false
    try {
      s.send(JSON.stringify(msg))
      return true
    } catch {
      return false
    }
  }

  private url(): string {
    return typeof this.opts.url === 'function' ? this.opts.url() : this.opts.url
  }

  private async probeThenConnect() {
    let ok = true
    try {
      ok = await this.opts.probe!()
    } catch {
      ok = false
    }
    if (!this.started) return
    if (ok) {
      this.connect()
      return
    }
    this.setState('unavailable')
    this.timers.reconnect = setTimeout(() => {
      this.timers.reconnect = undefined
      if (this.started) void this.probeThenConnect()
    }, this.opts.unavailableRetryMs)
  }

  private connect() {
    if (!this.started || this.socket) return
    this.setState(this.everOpened || this.attempt > 0 ? 'reconnecting' : 'connecting')
    let s: SocketLike
    try {
      s = this.opts.createSocket(this.url())
    } catch {
      this.scheduleReconnect(false)
      return
    }
    this.socket = s
    let opened = false
    s.onopen = () => {
      if (this.socket !== s) return
      opened = true
      this.everOpened = true
      this.failuresWithoutOpen = 0
      this.setState('open')
      const token = this.opts.getToken() ?? this.lastToken
      this.lastToken = token
      if (token) this.send({ type: 'auth', token })
      for (const [ch, c] of this.channels) {
        // Resume with the last version: the server sends a fresh snapshot
        // if anything is newer and stays silent otherwise. Board versions
        // are per server node, so boards always start over.
        const resume = c.version !== null && !ch.startsWith('board:')
        c.awaitingSnapshot = !(resume && this.opts.gapDetection === 'prev')
        c.refused = false
        const msg: Record<string, unknown> = { type: 'subscribe', ch }
        if (resume) msg.v = c.version
        this.send(msg)
      }
      this.timers.ping = setInterval(() => this.send({ type: 'ping' }), this.opts.pingIntervalMs)
      this.timers.stable = setTimeout(() => {
        this.attempt = 0
      }, this.opts.stableAfterMs)
      this.armIdle()
    }
    s.onmessage = (ev) => {
      if (this.socket !== s) return
      this.armIdle()
      this.attempt = 0
      this.onFrame(ev.data)
    }
    s.onerror = () => {
      /* onclose follows */
    }
    s.onclose = () => {
      if (this.socket !== s) return
      this.socket = null
      this.stopConnectionTimers()
      if (opened) this.resyncAll()
      this.scheduleReconnect(opened)
    }
  }

  private armIdle() {
    if (this.timers.idle) clearTimeout(this.timers.idle)
    this.timers.idle = setTimeout(() => {
      // Silent for too long: the connection is probably dead (a sleeping
      // laptop, a dropped NAT entry). Replace it.
      const s = this.socket
      if (!s) return
      this.socket = null
      s.onclose = s.onmessage = s.onerror = s.onopen = null
      try {
        s.close(4000, 'idle')
      } catch {
        /* ignore */
      }
      this.stopConnectionTimers()
      this.resyncAll()
      this.scheduleReconnect(true)
    }, this.opts.idleTimeoutMs)
  }

  private scheduleReconnect(wasOpen: boolean) {
    if (!this.started) return
    if (!wasOpen) this.failuresWithoutOpen++
    if (this.opts.probe && !this.everOpened && this.failuresWithoutOpen >= this.opts.failuresBeforeProbe) {
      this.failuresWithoutOpen = 0
      this.attempt = 0
      void this.probeThenConnect()
      return
    }
    const delay = this.backoffDelay(this.attempt)
    this.attempt++
    this.setState('reconnecting')
    this.timers.reconnect = setTimeout(() => {
      this.timers.reconnect = undefined
      this.connect()
    }, delay)
  }

  // backoffDelay(n): the wait before reconnection attempt n (0-based):
  // initial·factorⁿ capped at max, then ±jitter.
  backoffDelay(n: number): number {
    const { initialMs, maxMs, factor, jitter } = this.opts.backoff
    const base = Math.min(maxMs, initialMs * Math.pow(factor, n))
    const j = 1 - jitter + 2 * jitter * this.opts.random()
    return Math.max(0, Math.round(Math.min(maxMs, base * j)))
  }

  private stopConnectionTimers() {
    if (this.timers.ping) clearInterval(this.timers.ping)
    if (this.timers.idle) clearTimeout(this.timers.idle)
    if (this.timers.stable) clearTimeout(this.timers.stable)
    this.timers.ping = this.timers.idle = this.timers.stable = undefined
  }

  private clearTimers() {
    this.stopConnectionTimers()
    for (const t of this.retryTimers.values()) clearTimeout(t)
    this.retryTimers.clear()
    if (this.timers.reconnect) clearTimeout(this.timers.reconnect)
    this.timers.reconnect = undefined
  }

  // After losing the connection every channel needs a snapshot again; tell
  // listeners so they can show stale state or refetch.
  private resyncAll() {
    for (const [ch, c] of this.channels) {
      c.awaitingSnapshot = true
      this.emit(c, { ch, type: 'resync', message: 'reconnect' })
    }
  }

  private emit(c: Channel, ev: LiveEvent) {
    for (const fn of [...c.listeners]) {
      try {
        fn(ev)
      } catch (e) {
        // A listener's bug must not break the others or the socket.
        setTimeout(() => {
          throw e
        })
      }
    }
  }

  private onFrame(raw: unknown) {
    if (typeof raw !== 'string') return
    let msg: LiveMessage
    try {
      msg = JSON.parse(raw) as LiveMessage
    } catch {
      return
    }
    if (!msg || typeof msg !== 'object') return
    if (msg.type === 'pong') return
    if (typeof msg.ch !== 'string') {
      // Connection-level (error, auth ok). An auth the server could not
      // check right now is sent again shortly, and with it the channels
      // refused meanwhile for want of it.
      if (msg.type === 'error' && msg.code === 'unavailable' && !this.retryTimers.has('auth')) {
        this.retryTimers.set(
          'auth',
          setTimeout(() => {
            this.retryTimers.delete('auth')
            const token = this.lastToken
            this.lastToken = null
            this.setToken(token)
          }, this.opts.resubscribeMs),
        )
      }
      return
    }
    const c = this.channels.get(msg.ch)
    if (!c) return // not (or no longer) subscribed
    if (msg.type === 'error') {
      // The server dropped the subscription. A channel it could not serve
      // right now is tried again shortly; one refused for want of a token
      // (unauthorized, token_expired) when a new token is set.
      c.refused = true
      this.emit(c, msg)
      if (msg.code === 'unavailable' && !this.retryTimers.has(msg.ch)) {
        const ch = msg.ch
        this.retryTimers.set(
          ch,
          setTimeout(() => {
            this.retryTimers.delete(ch)
            const cur = this.channels.get(ch)
            if (cur && cur.refused && this.send({ type: 'subscribe', ch })) {
              cur.refused = false
              cur.awaitingSnapshot = true
            }
          }, this.opts.resubscribeMs),
        )
      }
      return
    }
    const v = typeof msg.v === 'number' ? msg.v : null
    if (msg.type === 'snapshot') {
      if (v !== null) c.version = v
      c.awaitingSnapshot = false
      this.emit(c, msg)
      return
    }
    if (v === null) {
      // Unversioned (ephemeral) messages pass as they are.
      this.emit(c, msg)
      return
    }
    const prev = typeof msg.prev === 'number' ? msg.prev : null
    const contiguous = this.opts.gapDetection === 'contiguous'
    if (c.awaitingSnapshot) {
      // A server that replays what was missed instead of sending a snapshot
      // continues right after our version; anything else waits for the
      // snapshot.
      const continues = c.version !== null && (contiguous ? v === c.version + 1 : prev !== null && prev === c.version)
      if (!continues) return
      c.awaitingSnapshot = false
    } else if (c.version !== null && v <= c.version) {
      return // stale or duplicate
    } else if (c.version !== null && (contiguous ? v > c.version + 1 : prev !== null && prev > c.version)) {
      this.requestSnapshot(msg.ch, c)
      return
    }
    c.version = v
    this.emit(c, msg)
  }

  // A gap: ask for a fresh snapshot (unsubscribe, then subscribe without a
  // version), and let listeners refetch meanwhile.
  private requestSnapshot(ch: string, c: Channel) {
    c.awaitingSnapshot = true
    c.version = null // only a snapshot may follow now
    this.emit(c, { ch, type: 'resync', message: 'gap' })
    this.send({ type: 'unsubscribe', ch })
    this.send({ type: 'subscribe', ch })
  }
}
