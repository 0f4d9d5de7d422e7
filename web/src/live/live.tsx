// The app's one LiveClient and the hooks that use it.

import { createContext, useCallback, useContext, useEffect, useRef, useSyncExternalStore, type ReactNode } from 'react'
import { LiveClient, type LiveEvent, type LiveState } from './LiveClient'
import { MAX_POST_CHANNELS, PostWatch } from './postWatch'
import { getAccessToken, onSessionChange } from '../api/client'
import { clockNow, subscribeClock } from '../lib/clock'
import { onReconnect } from './reconnect'

function wsURL(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${location.host}/ws`
}

// probe says whether the server has a WebSocket endpoint. It runs only after
// sockets kept failing: a server without /ws answers a plain GET with the web
// app's index.html (the client-route fallback), and then the UI polls.
async function probe(): Promise<boolean> {
  try {
    const res = await fetch('/ws', { cache: 'no-store', headers: { Accept: 'application/json' } })
    const type = res.headers.get('Content-Type') ?? ''
    return !(res.status === 404 || (res.ok && type.includes('text/html')))
  } catch {
    return false
  }
}

export function createLiveClient(): LiveClient {
  return new LiveClient({ url: wsURL, getToken: getAccessToken, probe })
}

const LiveContext = createContext<LiveClient | null>(null)

export function LiveProvider({ client, children }: { client: LiveClient; children: ReactNode }) {
  useEffect(() => {
    client.start()
    const off = onSessionChange((token) => {
      if (token) client.setToken(token)
      else {
        // Shed the old identity: forget its token too, or the new socket
        // signs in with it again (and whoever logs in next in this tab
        // would get the previous user's me channel).
        client.setToken(null)
        client.reconnectNow()
      }
    })
    const online = () => client.reconnectNow()
    window.addEventListener('online', online)
    return () => {
      off()
      window.removeEventListener('online', online)
    }
  }, [client])
  return <LiveContext.Provider value={client}>{children}</LiveContext.Provider>
}

export function useLive(): LiveClient {
  const c = useContext(LiveContext)
  if (!c) throw new Error('useLive outside LiveProvider')
  return c
}

export function useLiveState(): LiveState {
  const c = useLive()
  return useSyncExternalStore(
    (fn) => c.onState(fn),
    () => c.state,
  )
}

// useChannel subscribes to a channel while the component is mounted (and
// ch is not null); handler always sees the latest props.
export function useChannel(ch: string | null, handler: (ev: LiveEvent) => void): void {
  const c = useLive()
  const ref = useRef(handler)
  ref.current = handler
  useEffect(() => {
    if (!ch) return
    return c.subscribe(ch, (ev) => ref.current(ev))
  }, [c, ch])
}

// usePostChannels follows post:<id> for the posts a list shows — the first
// `max` ids (the server allows 64 subscriptions per connection) —
// subscribing to those that come and unsubscribing from those that leave,
// and from all on unmount; handler always sees the latest props.
export function usePostChannels(ids: readonly string[], handler: (id: string, ev: LiveEvent) => void, max = MAX_POST_CHANNELS): void {
  const c = useLive()
  const ref = useRef(handler)
  ref.current = handler
  const watch = useRef<PostWatch | null>(null)
  useEffect(() => {
    const w = new PostWatch((ch, fn) => c.subscribe(ch, fn), (id, ev) => ref.current(id, ev), max)
    watch.current = w
    return () => {
      w.stop()
      if (watch.current === w) watch.current = null
    }
  }, [c, max])
  const key = ids.join('\n')
  useEffect(() => {
    watch.current?.set(key ? key.split('\n') : [])
  }, [key, c, max])
}

export const POLL_MS = 15_000

// usePollWhenNotLive calls fn every 15 s while live updates are not
// flowing (no /ws, or reconnecting) and the page is visible. The timer runs
// regardless of the state, so a connection that keeps dropping does not keep
// postponing the next poll.
export function usePollWhenNotLive(fn: () => void, enabled = true, ms = POLL_MS): void {
  const c = useLive()
  const ref = useRef(fn)
  ref.current = fn
  useEffect(() => {
    if (!enabled) return
    const id = setInterval(() => {
      if (c.state !== 'open' && document.visibilityState === 'visible') ref.current()
    }, ms)
    return () => clearInterval(id)
  }, [c, enabled, ms])
}

// useNow re-renders every `ms` and returns the time. Components that ask
// for the same period share one timer (lib/clock.ts); null stops it.
export function useNow(ms: number | null = 1000): number {
  const subscribe = useCallback((fn: () => void) => (ms === null ? () => {} : subscribeClock(ms, fn)), [ms])
  const snapshot = useCallback(() => (ms === null ? 0 : clockNow(ms)), [ms])
  return useSyncExternalStore(subscribe, snapshot)
}

// useRetryOnReconnect calls fn, while active, whenever the live connection
// opens again or the browser says it is back online: a list that failed to
// load while the network was away loads again by itself.
export function useRetryOnReconnect(fn: () => void, active: boolean): void {
  const c = useLive()
  const ref = useRef(fn)
  ref.current = fn
  useEffect(() => {
    if (!active) return
    return onReconnect(c, typeof window === 'undefined' ? null : window, () => ref.current())
  }, [c, active])
}
