import { describe, expect, it, vi } from 'vitest'
import { onReconnect } from './reconnect'
import { LiveClient, type SocketLike } from './LiveClient'

// A LiveClient on fake sockets, as LiveClient.test.ts drives it.
function setup() {
  const sockets: (SocketLike & { open: () => void; drop: () => void })[] = []
  const live = new LiveClient({
    url: 'ws://x/ws',
    createSocket: () => {
      const s = {
        readyState: 0,
        send() {},
        close() {},
        onopen: null as SocketLike['onopen'],
        onclose: null as SocketLike['onclose'],
        onerror: null as SocketLike['onerror'],
        onmessage: null as SocketLike['onmessage'],
        open() {
          this.readyState = 1
          this.onopen?.({})
        },
        drop() {
          this.readyState = 3
          this.onclose?.({ code: 1006 })
        },
      }
      sockets.push(s)
      return s
    },
    backoff: { initialMs: 1, maxMs: 1, jitter: 0 },
  })
  return { live, sockets }
}

describe('onReconnect', () => {
  it('fires when the connection opens again after a loss, not while it stays open', async () => {
    vi.useFakeTimers()
    try {
      const { live, sockets } = setup()
      const fn = vi.fn()
      const off = onReconnect(live, null, fn)
      live.start()
      sockets[0].open()
      expect(fn).toHaveBeenCalledTimes(1) // connecting → open
      sockets[0].drop()
      expect(live.state).toBe('reconnecting')
      expect(fn).toHaveBeenCalledTimes(1)
      await vi.advanceTimersByTimeAsync(5)
      sockets[1].open()
      expect(fn).toHaveBeenCalledTimes(2)
      off()
      sockets[1].drop()
      await vi.advanceTimersByTimeAsync(5)
      sockets[2].open()
      expect(fn).toHaveBeenCalledTimes(2)
      live.stop()
    } finally {
      vi.useRealTimers()
    }
  })

  it('fires when the browser comes back online', () => {
    const { live } = setup()
    const win = new EventTarget()
    const fn = vi.fn()
    const off = onReconnect(live, win, fn)
    win.dispatchEvent(new Event('online'))
    expect(fn).toHaveBeenCalledTimes(1)
    off()
    win.dispatchEvent(new Event('online'))
    expect(fn).toHaveBeenCalledTimes(1)
  })
})
