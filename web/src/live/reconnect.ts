// onReconnect: when to retry what failed while the network (or the server)
// was away.

import type { LiveState } from './LiveClient'

export interface StateSource {
  readonly state: LiveState
  onState(fn: (s: LiveState) => void): () => void
}

type Events = Pick<EventTarget, 'addEventListener' | 'removeEventListener'>

// onReconnect calls fn each time the live connection opens after having been
// anything else, and each time the browser fires "online". It returns the
// function that stops it.
export function onReconnect(live: StateSource, win: Events | null, fn: () => void): () => void {
  let was = live.state
  const off = live.onState((s) => {
    const before = was
    was = s
    if (s === 'open' && before !== 'open') fn()
  })
  const online = () => fn()
  win?.addEventListener('online', online)
  return () => {
    off()
    win?.removeEventListener('online', online)
  }
}
