import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import { LiveClient, type LiveEvent, type SocketLike, type LiveState } from './LiveClient'

// FakeSocket records what the client sends and lets a test play the server.
class FakeSocket implements SocketLike {
  readyState = 0
  sent: Record<string, unknown>[] = []
  closed = false
  onopen: ((ev: unknown) => void) | null = null
  onclose: ((ev: { code?: number; reason?: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  constructor(public url: string) {}
  send(data: string) {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open')
    this.sent.push(JSON.parse(data))
  }
  close() {
    this.closed = true
    this.readyState = 3
  }
  // server side
  open() {
    this.readyState = 1
    this.onopen?.({})
  }
  push(msg: unknown) {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) })
  }
  drop() {
    this.readyState = 3
    this.onclose?.({ code: 1006 })
  }
  fail() {
    // a handshake that never opened
    this.readyState = 3
    this.onerror?.({})
    this.onclose?.({ code: 1006 })
  }
  types() {
    return this.sent.map((m) => m.type)
  }
}

function setup(extra: Partial<ConstructorParameters<typeof LiveClient>[0]> = {}) {
  const sockets: FakeSocket[] = []
  const states: LiveState[] = []
  let token: string | null = 'tok1'
  const client = new LiveClient({
    url: 'ws://test/ws',
    createSocket: (u) => {
      const s = new FakeSocket(u)
      sockets.push(s)
      return s
    },
    getToken: () => token,
    random: () => 0.5, // no jitter
    backoff: { initialMs: 100, maxMs: 1600, factor: 2, jitter: 0.2 },
    ...extra,
  })
  client.onState((s) => states.push(s))
  return {
    client,
    sockets,
    states,
    last: () => sockets[sockets.length - 1],
    setToken: (t: string | null) => {
      token = t
    },
  }
}

function collect(client: LiveClient, ch: string) {
  const got: LiveEvent[] = []
  const off = client.subscribe(ch, (e) => got.push(e))
  return { got, off, kinds: () => got.map((e) => `${e.type}${e.v !== undefined ? '@' + e.v : ''}`) }
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('LiveClient: connection and subscriptions', () => {
  it('authenticates first, then subscribes to every channel once', () => {
    const t = setup()
    collect(t.client, 'post:12')
    collect(t.client, 'post:12')
    collect(t.client, 'posts:new')
    t.client.start()
    expect(t.states).toEqual(['connecting'])
    t.last().open()
    expect(t.states).toEqual(['connecting', 'open'])
    expect(t.last().sent).toEqual([
      { type: 'auth', token: 'tok1' },
      { type: 'subscribe', ch: 'post:12' },
      { type: 'subscribe', ch: 'posts:new' },
    ])
  })

  it('subscribes at once when already open, and unsubscribes when the last listener leaves', () => {
    const t = setup()
    t.client.start()
    t.last().open()
    const a = collect(t.client, 'board:hot')
    const b = collect(t.client, 'board:hot')
    expect(t.last().sent.filter((m) => m.type === 'subscribe')).toEqual([{ type: 'subscribe', ch: 'board:hot' }])
    a.off()
    expect(t.last().types()).not.toContain('unsubscribe')
    b.off()
    expect(t.last().sent.at(-1)).toEqual({ type: 'unsubscribe', ch: 'board:hot' })
  })

  it('sends a new token on the open socket', () => {
    const t = setup()
    t.client.start()
    t.last().open()
    t.client.setToken('tok2')
    expect(t.last().sent.at(-1)).toEqual({ type: 'auth', token: 'tok2' })
  })

  it('ignores frames for channels it does not hold, bad JSON and pongs', () => {
    const t = setup()
    const c = collect(t.client, 'post:1')
    t.client.start()
    t.last().open()
    t.last().push('not json{')
    t.last().push({ type: 'pong' })
    t.last().push({ ch: 'post:2', type: 'snapshot', v: 1, data: {} })
    expect(c.got).toEqual([])
  })
})

describe('LiveClient: ordering by version', () => {
  it('delivers the snapshot, then updates in order, and drops stale or duplicate ones', () => {
    const t = setup()
    const c = collect(t.client, 'post:12')
    t.client.start()
    const s = t.last()
    s.open()
    s.push({ ch: 'post:12', type: 'snapshot', v: 5, data: { n: 0 } })
    s.push({ ch: 'post:12', type: 'stats', v: 6, data: { n: 1 } })
    s.push({ ch: 'post:12', type: 'stats', v: 6, data: { n: 1 } }) // duplicate
    s.push({ ch: 'post:12', type: 'stats', v: 4, data: { n: -1 } }) // stale
    s.push({ ch: 'post:12', type: 'stats', v: 7, data: { n: 2 } })
    expect(c.kinds()).toEqual(['snapshot@5', 'stats@6', 'stats@7'])
    expect(t.client.version('post:12')).toBe(7)
  })

  it('drops updates that arrive before the snapshot', () => {
    const t = setup()
    const c = collect(t.client, 'post:12')
    t.client.start()
    t.last().open()
    t.last().push({ ch: 'post:12', type: 'stats', v: 3 })
    t.last().push({ ch: 'post:12', type: 'snapshot', v: 3 })
    t.last().push({ ch: 'post:12', type: 'stats', v: 4 })
    expect(c.kinds()).toEqual(['snapshot@3', 'stats@4'])
  })

  it('passes unversioned messages through', () => {
    const t = setup()
    const c = collect(t.client, 'post:12')
    t.client.start()
    t.last().open()
    t.last().push({ ch: 'post:12', type: 'snapshot', v: 1 })
    t.last().push({ ch: 'post:12', type: 'viewers', data: { count: 3 } })
    expect(c.kinds()).toEqual(['snapshot@1', 'viewers'])
  })

  it('accepts a newer snapshot that replaces the state, even with a lower version (server restarted)', () => {
    const t = setup()
    const c = collect(t.client, 'board:hot')
    t.client.start()
    t.last().open()
    t.last().push({ ch: 'board:hot', type: 'snapshot', v: 90 })
    t.last().push({ ch: 'board:hot', type: 'snapshot', v: 2 })
    t.last().push({ ch: 'board:hot', type: 'diff', v: 3 })
    expect(c.kinds()).toEqual(['snapshot@90', 'snapshot@2', 'diff@3'])
  })
})

describe('LiveClient: a gap means a new snapshot', () => {
  it('contiguous versions: on a skipped version it tells listeners to resync, re-subscribes without a version, drops updates until the snapshot', () => {
    const t = setup({ gapDetection: 'contiguous' })
    const c = collect(t.client, 'post:12')
    t.client.start()
    const s = t.last()
    s.open()
    s.push({ ch: 'post:12', type: 'snapshot', v: 10 })
    s.push({ ch: 'post:12', type: 'stats', v: 11 })
    s.sent = []
    s.push({ ch: 'post:12', type: 'stats', v: 13 }) // 12 is missing
    expect(c.kinds()).toEqual(['snapshot@10', 'stats@11', 'resync'])
    expect(c.got.at(-1)?.message).toBe('gap')
    expect(s.sent).toEqual([
      { type: 'unsubscribe', ch: 'post:12' },
      { type: 'subscribe', ch: 'post:12' },
    ])
    expect(t.client.version('post:12')).toBeNull()
    s.push({ ch: 'post:12', type: 'stats', v: 14 }) // still before the snapshot
    s.push({ ch: 'post:12', type: 'snapshot', v: 14 })
    s.push({ ch: 'post:12', type: 'stats', v: 15 })
    expect(c.kinds()).toEqual(['snapshot@10', 'stats@11', 'resync', 'snapshot@14', 'stats@15'])
  })

  it('a gap on one channel leaves the others alone', () => {
    const t = setup({ gapDetection: 'contiguous' })
    const a = collect(t.client, 'post:1')
    const b = collect(t.client, 'post:2')
    t.client.start()
    const s = t.last()
    s.open()
    s.push({ ch: 'post:1', type: 'snapshot', v: 1 })
    s.push({ ch: 'post:2', type: 'snapshot', v: 1 })
    s.push({ ch: 'post:1', type: 'stats', v: 5 })
    s.push({ ch: 'post:2', type: 'stats', v: 2 })
    expect(a.kinds()).toEqual(['snapshot@1', 'resync'])
    expect(b.kinds()).toEqual(['snapshot@1', 'stats@2'])
  })
})

describe('LiveClient: timestamp versions with prev (what the Jokster server sends)', () => {
  it('accepts increasing, non-contiguous versions', () => {
    const t = setup()
    const c = collect(t.client, 'post:12')
    t.client.start()
    const s = t.last()
    s.open()
    s.push({ ch: 'post:12', type: 'snapshot', v: 1_000_000 })
    s.push({ ch: 'post:12', type: 'stats', v: 1_000_350 })
    s.push({ ch: 'post:12', type: 'stats', v: 1_000_200 }) // older: dropped
    s.push({ ch: 'post:12', type: 'stats', v: 1_009_999 })
    expect(c.kinds()).toEqual(['snapshot@1000000', 'stats@1000350', 'stats@1009999'])
  })

  it('sees a gap when prev is newer than the last version held', () => {
    const t = setup()
    const c = collect(t.client, 'post:12')
    t.client.start()
    const s = t.last()
    s.open()
    s.push({ ch: 'post:12', type: 'snapshot', v: 500 })
    s.push({ ch: 'post:12', type: 'stats', v: 700, prev: 450 }) // prev before the snapshot: fine
    s.push({ ch: 'post:12', type: 'stats', v: 900, prev: 700 }) // continues: fine
    s.sent = []
    s.push({ ch: 'post:12', type: 'stats', v: 1200, prev: 1000 }) // 1000 never arrived
    expect(c.kinds()).toEqual(['snapshot@500', 'stats@700', 'stats@900', 'resync'])
    expect(s.sent).toEqual([
      { type: 'unsubscribe', ch: 'post:12' },
      { type: 'subscribe', ch: 'post:12' },
    ])
    s.push({ ch: 'post:12', type: 'stats', v: 1300, prev: 1200 }) // still waiting for the snapshot
    s.push({ ch: 'post:12', type: 'snapshot', v: 1250 })
    s.push({ ch: 'post:12', type: 'stats', v: 1300, prev: 1200 })
    expect(c.kinds()).toEqual(['snapshot@500', 'stats@700', 'stats@900', 'resync', 'snapshot@1250', 'stats@1300'])
  })

  it('after a resume, an update whose prev is newer than the version held is a gap', () => {
    const t = setup()
    const c = collect(t.client, 'post:1')
    t.client.start()
    t.last().open()
    t.last().push({ ch: 'post:1', type: 'snapshot', v: 10 })
    t.last().drop()
    vi.advanceTimersByTime(100)
    const s2 = t.last()
    s2.open()
    s2.push({ ch: 'post:1', type: 'stats', v: 20, prev: 10 }) // continues: applied
    s2.sent = []
    s2.push({ ch: 'post:1', type: 'stats', v: 40, prev: 30 }) // 30 was missed
    expect(c.kinds()).toEqual(['snapshot@10', 'resync', 'stats@20', 'resync'])
    expect(s2.sent).toEqual([
      { type: 'unsubscribe', ch: 'post:1' },
      { type: 'subscribe', ch: 'post:1' },
    ])
  })
})

describe('LiveClient: reconnection', () => {
  it('reconnects with exponential backoff capped at the maximum, showing "reconnecting"', () => {
    const t = setup()
    t.client.start()
    t.last().open()
    t.last().drop()
    expect(t.client.state).toBe('reconnecting')
    // attempts 0..5: 100, 200, 400, 800, 1600, 1600 (capped)
    const expected = [100, 200, 400, 800, 1600, 1600]
    for (const d of expected) {
      const before = t.sockets.length
      vi.advanceTimersByTime(d - 1)
      expect(t.sockets.length).toBe(before)
      vi.advanceTimersByTime(1)
      expect(t.sockets.length).toBe(before + 1)
      t.last().fail()
    }
    expect(t.states.filter((s) => s === 'open').length).toBe(1)
  })

  it('applies jitter within ±jitter of the delay', () => {
    const lo = setup({ random: () => 0 }).client
    const hi = setup({ random: () => 0.999999 }).client
    expect(lo.backoffDelay(2)).toBe(320) // 400 · 0.8
    expect(hi.backoffDelay(2)).toBe(480) // 400 · 1.2
    expect(hi.backoffDelay(10)).toBe(1600) // never above the cap
  })

  it('resets the backoff once a connection is healthy', () => {
    const t = setup()
    t.client.start()
    t.last().open()
    t.last().drop()
    vi.advanceTimersByTime(100)
    t.last().fail()
    vi.advanceTimersByTime(200)
    t.last().open()
    t.last().push({ type: 'pong' })
    t.last().drop()
    const before = t.sockets.length
    vi.advanceTimersByTime(100) // back to the first delay
    expect(t.sockets.length).toBe(before + 1)
  })

  it('re-authenticates and re-subscribes with the last versions; the snapshot resumes the stream', () => {
    const t = setup({ gapDetection: 'contiguous' })
    const c = collect(t.client, 'post:12')
    const n = collect(t.client, 'posts:new')
    t.client.start()
    const s1 = t.last()
    s1.open()
    s1.push({ ch: 'post:12', type: 'snapshot', v: 3 })
    s1.push({ ch: 'post:12', type: 'stats', v: 4 })
    s1.push({ ch: 'posts:new', type: 'snapshot', v: 70 })
    t.setToken('tok9')
    s1.drop()
    expect(c.kinds()).toEqual(['snapshot@3', 'stats@4', 'resync'])
    expect(n.kinds()).toEqual(['snapshot@70', 'resync'])
    vi.advanceTimersByTime(100)
    const s2 = t.last()
    expect(s2).not.toBe(s1)
    s2.open()
    expect(s2.sent).toEqual([
      { type: 'auth', token: 'tok9' },
      { type: 'subscribe', ch: 'post:12', v: 4 },
      { type: 'subscribe', ch: 'posts:new', v: 70 },
    ])
    s2.push({ ch: 'post:12', type: 'stats', v: 9 }) // not a continuation, before the snapshot: dropped
    s2.push({ ch: 'post:12', type: 'snapshot', v: 9 })
    s2.push({ ch: 'post:12', type: 'stats', v: 10 })
    expect(c.kinds()).toEqual(['snapshot@3', 'stats@4', 'resync', 'snapshot@9', 'stats@10'])
  })

  it('timestamp versions: resumes with the last version, and takes a snapshot or newer updates after it', () => {
    const t = setup()
    const c = collect(t.client, 'post:12')
    const b = collect(t.client, 'board:hot')
    t.client.start()
    const s1 = t.last()
    s1.open()
    s1.push({ ch: 'post:12', type: 'snapshot', v: 1000 })
    s1.push({ ch: 'board:hot', type: 'snapshot', v: 5000 })
    s1.drop()
    vi.advanceTimersByTime(100)
    const s2 = t.last()
    s2.open()
    // Boards are per server node: they start over without a version.
    expect(s2.sent).toEqual([
      { type: 'auth', token: 'tok1' },
      { type: 'subscribe', ch: 'post:12', v: 1000 },
      { type: 'subscribe', ch: 'board:hot' },
    ])
    // Nothing was newer, so the server stayed silent; later updates apply.
    s2.push({ ch: 'post:12', type: 'stats', v: 900 }) // older: dropped
    s2.push({ ch: 'post:12', type: 'stats', v: 2000 })
    expect(c.kinds()).toEqual(['snapshot@1000', 'resync', 'stats@2000'])
    // A board snapshot from another node may carry a smaller version.
    s2.push({ ch: 'board:hot', type: 'diff', v: 4000 }) // before its snapshot: dropped
    s2.push({ ch: 'board:hot', type: 'snapshot', v: 3000 })
    s2.push({ ch: 'board:hot', type: 'diff', v: 3100 })
    expect(b.kinds()).toEqual(['snapshot@5000', 'resync', 'snapshot@3000', 'diff@3100'])
  })

  it('accepts a server that replays the missed updates instead of a snapshot', () => {
    const t = setup({ gapDetection: 'contiguous' })
    const c = collect(t.client, 'post:12')
    t.client.start()
    t.last().open()
    t.last().push({ ch: 'post:12', type: 'snapshot', v: 3 })
    t.last().drop()
    vi.advanceTimersByTime(100)
    t.last().open()
    t.last().push({ ch: 'post:12', type: 'stats', v: 4 })
    t.last().push({ ch: 'post:12', type: 'stats', v: 5 })
    expect(c.kinds()).toEqual(['snapshot@3', 'resync', 'stats@4', 'stats@5'])
  })

  it('does not subscribe again to channels left while disconnected', () => {
    const t = setup()
    const a = collect(t.client, 'post:1')
    collect(t.client, 'post:2')
    t.client.start()
    t.last().open()
    t.last().drop()
    a.off()
    vi.advanceTimersByTime(100)
    t.last().open()
    expect(t.last().sent.filter((m) => m.type === 'subscribe')).toEqual([{ type: 'subscribe', ch: 'post:2' }])
  })

  it('pings, and replaces a connection that stays silent', () => {
    const t = setup({ pingIntervalMs: 1000, idleTimeoutMs: 2500 })
    t.client.start()
    const s = t.last()
    s.open()
    vi.advanceTimersByTime(1000)
    expect(s.sent.at(-1)).toEqual({ type: 'ping' })
    vi.advanceTimersByTime(1500) // 2500 ms without a frame
    expect(s.closed).toBe(true)
    expect(t.client.state).toBe('reconnecting')
    vi.advanceTimersByTime(100)
    expect(t.sockets.length).toBe(2)
  })

  it('stop() closes for good', () => {
    const t = setup()
    t.client.start()
    t.last().open()
    t.client.stop()
    expect(t.last().closed).toBe(true)
    expect(t.client.state).toBe('closed')
    vi.advanceTimersByTime(60_000)
    expect(t.sockets.length).toBe(1)
  })

  it('reconnectNow() drops the socket and connects at once', () => {
    const t = setup()
    t.client.start()
    t.last().open()
    t.client.reconnectNow()
    expect(t.sockets[0].closed).toBe(true)
    expect(t.sockets.length).toBe(2)
  })
})

describe('LiveClient: a server without /ws', () => {
  it('probes first and stays "unavailable" (no socket) when the endpoint is missing, probing again later', async () => {
    let present = false
    const probe = vi.fn(async () => present)
    const t = setup({ probe, probeFirst: true, unavailableRetryMs: 10_000 })
    t.client.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(t.client.state).toBe('unavailable')
    expect(t.sockets.length).toBe(0)
    present = true
    await vi.advanceTimersByTimeAsync(10_000)
    expect(probe).toHaveBeenCalledTimes(2)
    expect(t.sockets.length).toBe(1)
    t.last().open()
    expect(t.client.state).toBe('open')
  })

  it('connects at once, and probes only after connections keep failing without ever opening', async () => {
    const probe = vi.fn(async () => false)
    const t = setup({ probe, failuresBeforeProbe: 2, unavailableRetryMs: 5000 })
    t.client.start()
    expect(probe).not.toHaveBeenCalled() // no probe while sockets may work
    t.last().fail()
    await vi.advanceTimersByTimeAsync(100)
    expect(t.sockets.length).toBe(2)
    t.last().fail()
    await vi.advanceTimersByTimeAsync(0)
    expect(probe).toHaveBeenCalledTimes(1)
    expect(t.client.state).toBe('unavailable')
    // While unavailable only the probe is retried, not the socket.
    await vi.advanceTimersByTimeAsync(5000)
    expect(probe).toHaveBeenCalledTimes(2)
    expect(t.sockets.length).toBe(2)
    probe.mockResolvedValue(true)
    await vi.advanceTimersByTimeAsync(5000)
    expect(t.sockets.length).toBe(3)
    t.last().open()
    expect(t.client.state).toBe('open')
  })
})

describe('LiveClient: refused subscriptions', () => {
  it('passes an error for a channel to its listeners', () => {
    const t = setup()
    const c = collect(t.client, 'me')
    t.client.start()
    t.last().open()
    t.last().push({ ch: 'me', type: 'error', code: 'forbidden', message: 'sign in first' })
    expect(c.kinds()).toEqual(['error'])
  })

  it('subscribes again to a channel refused for its token once a new token is set', () => {
    const t = setup()
    collect(t.client, 'me')
    t.client.start()
    const s = t.last()
    s.open()
    s.push({ ch: 'me', type: 'error', code: 'token_expired', message: 'send auth' })
    s.sent = []
    t.client.setToken('fresh')
    expect(s.sent).toEqual([
      { type: 'auth', token: 'fresh' },
      { type: 'subscribe', ch: 'me' },
    ])
  })

  it('tries a channel the server could not serve again after a pause', () => {
    const t = setup({ resubscribeMs: 1000 })
    collect(t.client, 'post:3')
    t.client.start()
    const s = t.last()
    s.open()
    s.push({ ch: 'post:3', type: 'error', code: 'unavailable', message: 'subscribe again' })
    s.sent = []
    vi.advanceTimersByTime(999)
    expect(s.sent).toEqual([])
    vi.advanceTimersByTime(1)
    expect(s.sent).toEqual([{ type: 'subscribe', ch: 'post:3' }])
  })

  it('sends auth again when the server could not check it, and the channels refused meanwhile', () => {
    const t = setup({ resubscribeMs: 1000 })
    collect(t.client, 'me')
    t.client.start()
    const s = t.last()
    s.open()
    // The token could not be checked (the server's database was slow), so
    // me was refused for want of it.
    s.push({ type: 'error', code: 'unavailable', message: 'send auth again' })
    s.push({ ch: 'me', type: 'error', code: 'unauthorized', message: 'auth first' })
    s.sent = []
    vi.advanceTimersByTime(999)
    expect(s.sent).toEqual([])
    vi.advanceTimersByTime(1)
    expect(s.sent).toEqual([
      { type: 'auth', token: 'tok1' },
      { type: 'subscribe', ch: 'me' },
    ])
  })
})
