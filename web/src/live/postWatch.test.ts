import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { LiveClient, type LiveListener, type SocketLike } from './LiveClient'
import { Jittered, MAX_POST_CHANNELS, PostWatch, Reread } from './postWatch'

// A subscribe function that records the live subscriptions.
function channels() {
  const live = new Map<string, LiveListener>()
  const log: string[] = []
  const subscribe = (ch: string, fn: LiveListener) => {
    if (live.has(ch)) throw new Error('subscribed twice to ' + ch)
    live.set(ch, fn)
    log.push('+' + ch)
    return () => {
      live.delete(ch)
      log.push('-' + ch)
    }
  }
  return { live, log, subscribe }
}

const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i))

describe('PostWatch', () => {
  it('follows the listed posts, at most 40, and drops those that leave the list', () => {
    const c = channels()
    const heard: string[] = []
    const w = new PostWatch(c.subscribe, (id, ev) => heard.push(`${id}:${ev.type}`))
    w.set(ids(1, 50))
    expect(MAX_POST_CHANNELS).toBe(40)
    expect(c.live.size).toBe(40)
    expect(c.live.has('post:1') && c.live.has('post:40') && !c.live.has('post:41')).toBe(true)
    c.live.get('post:7')!({ ch: 'post:7', type: 'stats', v: 2, data: {} })
    expect(heard).toEqual(['7:stats'])
    // The list changes: 1–3 leave, 41 moves up into the first 40.
    c.log.length = 0
    w.set([...ids(4, 41), '4'])
    expect(c.log.sort()).toEqual(['+post:41', '-post:1', '-post:2', '-post:3'])
    expect(c.live.size).toBe(38)
    // Unchanged: nothing sent.
    c.log.length = 0
    w.set(ids(4, 41))
    expect(c.log).toEqual([])
    w.stop()
    expect(c.live.size).toBe(0)
    expect(w.ids()).toEqual([])
  })

  it('sends subscribe and unsubscribe to the server through the one LiveClient', () => {
    const sent: Record<string, unknown>[] = []
    const socket: SocketLike = {
      readyState: 1,
      send: (d) => void sent.push(JSON.parse(d)),
      close: () => {},
      onopen: null,
      onclose: null,
      onerror: null,
      onmessage: null,
    }
    const client = new LiveClient({ url: 'ws://test/ws', createSocket: () => socket })
    client.start()
    socket.onopen?.({})
    const w = new PostWatch((ch, fn) => client.subscribe(ch, fn), () => {})
    w.set(['12', '13'])
    w.set(['13'])
    w.stop()
    expect(sent.filter((m) => m.type !== 'ping')).toEqual([
      { type: 'subscribe', ch: 'post:12' },
      { type: 'subscribe', ch: 'post:13' },
      { type: 'unsubscribe', ch: 'post:12' },
      { type: 'unsubscribe', ch: 'post:13' },
    ])
    client.stop()
  })
})

describe('Reread', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  // A read that finishes when the test says so.
  function reader() {
    const done: (() => void)[] = []
    const read = vi.fn(() => new Promise<void>((r) => done.push(r)))
    const finish = async () => {
      done.shift()?.()
      await vi.advanceTimersByTimeAsync(0)
    }
    return { read, finish }
  }

  it('makes one read of a burst of requests, after the delay', async () => {
    const { read, finish } = reader()
    const r = new Reread(read, 500)
    for (let i = 0; i < 5; i++) {
      r.request()
      await vi.advanceTimersByTimeAsync(100)
    }
    expect(read).toHaveBeenCalledTimes(1) // 500 ms after the first request
    await finish()
    await vi.advanceTimersByTimeAsync(2000)
    expect(read).toHaveBeenCalledTimes(1)
  })

  it('never has two reads in flight, and reads once more after one that requests came in during', async () => {
    const { read, finish } = reader()
    const r = new Reread(read, 500)
    r.now()
    expect(read).toHaveBeenCalledTimes(1)
    r.now()
    r.request()
    await vi.advanceTimersByTimeAsync(600)
    r.request()
    await vi.advanceTimersByTimeAsync(600)
    expect(read).toHaveBeenCalledTimes(1) // still in flight
    await finish()
    expect(read).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(500)
    expect(read).toHaveBeenCalledTimes(2) // the one more, after againMs (the delay by default)
    await finish()
    await vi.advanceTimersByTimeAsync(2000)
    expect(read).toHaveBeenCalledTimes(2)
  })

  it('goes on after a failed read, and stops when told', async () => {
    const read = vi.fn(async () => {
      throw new Error('502')
    })
    const r = new Reread(read, 500)
    r.now()
    await vi.advanceTimersByTimeAsync(0)
    r.request()
    await vi.advanceTimersByTimeAsync(500)
    expect(read).toHaveBeenCalledTimes(2)
    r.request()
    r.stop()
    await vi.advanceTimersByTimeAsync(1000)
    r.now()
    expect(read).toHaveBeenCalledTimes(2)
    r.start()
    r.now()
    expect(read).toHaveBeenCalledTimes(3)
  })

  it('waits the delay plus a jitter drawn once per Reread, so viewers spread out', async () => {
    const a = reader()
    const b = reader()
    const ra = new Reread(a.read, { delayMs: 3000, jitterMs: 2000, random: () => 0 })
    const rb = new Reread(b.read, { delayMs: 3000, jitterMs: 2000, random: () => 0.75 })
    expect(ra.delayMs).toBe(3000)
    expect(rb.delayMs).toBe(4500)
    ra.request()
    rb.request()
    await vi.advanceTimersByTimeAsync(2999)
    expect(a.read).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    expect(a.read).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1499)
    expect(b.read).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    expect(b.read).toHaveBeenCalledTimes(1)
    // The same jitter every time for one Reread.
    await a.finish()
    ra.request()
    await vi.advanceTimersByTimeAsync(2999)
    expect(a.read).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(a.read).toHaveBeenCalledTimes(2)
  })

  it('skips requests for a while after a fresh read (the page channel\'s own "changed")', async () => {
    const { read, finish } = reader()
    const r = new Reread(read, { delayMs: 3000, freshMs: 5000 })
    r.now({ fresh: true })
    await finish()
    await vi.advanceTimersByTimeAsync(4000)
    r.request() // 4 s after it: skipped
    await vi.advanceTimersByTimeAsync(10_000)
    expect(read).toHaveBeenCalledTimes(1)
    r.request() // 14 s after it: read, after the delay
    await vi.advanceTimersByTimeAsync(2999)
    expect(read).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(read).toHaveBeenCalledTimes(2)
    await finish()
    // A read that is not fresh (a poll, the first load) skips nothing.
    r.now()
    await finish()
    r.request()
    await vi.advanceTimersByTimeAsync(3000)
    expect(read).toHaveBeenCalledTimes(4)
  })

  it('drops a waiting request that a read started after it answers', async () => {
    const { read, finish } = reader()
    const r = new Reread(read, { delayMs: 3000, freshMs: 5000 })
    r.request()
    await vi.advanceTimersByTimeAsync(1000)
    r.now({ fresh: true }) // "changed", 1 s after the rating
    expect(read).toHaveBeenCalledTimes(1)
    await finish()
    await vi.advanceTimersByTimeAsync(10_000)
    expect(read).toHaveBeenCalledTimes(1)
    // So does a read that is not fresh.
    r.request()
    await vi.advanceTimersByTimeAsync(1000)
    r.now()
    await finish()
    await vi.advanceTimersByTimeAsync(10_000)
    expect(read).toHaveBeenCalledTimes(2)
  })

  it('still reads once more for a "changed" heard while a fresh read was on its way', async () => {
    const { read, finish } = reader()
    const r = new Reread(read, { delayMs: 3000, freshMs: 5000, againMs: 500 })
    r.now({ fresh: true })
    r.now({ fresh: true }) // in flight: one more after it
    r.request() // skipped: fresh
    await finish()
    await vi.advanceTimersByTimeAsync(499)
    expect(read).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(read).toHaveBeenCalledTimes(2)
    await finish()
    await vi.advanceTimersByTimeAsync(10_000)
    expect(read).toHaveBeenCalledTimes(2)
  })
})

describe('Jittered', () => {
  afterEach(() => vi.useRealTimers())

  it('runs once for a burst, after its own random wait, and again for a later call', async () => {
    vi.useFakeTimers()
    const fn = vi.fn()
    const j = new Jittered(fn, { minMs: 250, maxMs: 3000, random: () => 0.2 }) // 800 ms
    j.fire()
    expect(j.pending).toBe(true)
    await vi.advanceTimersByTimeAsync(500)
    j.fire()
    await vi.advanceTimersByTimeAsync(299)
    expect(fn).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    expect(fn).toHaveBeenCalledTimes(1)
    expect(j.pending).toBe(false)
    j.fire()
    await vi.advanceTimersByTimeAsync(800)
    expect(fn).toHaveBeenCalledTimes(2)
  })

  it('does nothing once stopped', async () => {
    vi.useFakeTimers()
    const fn = vi.fn()
    const j = new Jittered(fn, { minMs: 10, maxMs: 20 })
    j.fire()
    j.stop()
    await vi.advanceTimersByTimeAsync(100)
    expect(fn).not.toHaveBeenCalled()
  })
})
