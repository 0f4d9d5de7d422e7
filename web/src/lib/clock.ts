// Shared clocks: every component that shows a relative time ("3 minutes
// ago") or a countdown re-renders from one timer per period, not from a
// timer of its own. A clock runs while anyone listens to it.
//
// The time a clock gives changes only when it ticks: a listener that leaves
// and comes back at once (a list re-rendered, a re-subscription) finds the
// same time, so useSyncExternalStore sees no change and renders nothing
// more. A clock nobody listened to for a whole period starts afresh.

interface Clock {
  now: number
  subs: Set<() => void>
  timer: ReturnType<typeof setInterval> | undefined
  // When its timer stopped (or, never started, when it was made).
  idleSince: number
}

const clocks = new Map<number, Clock>()

function clock(ms: number): Clock {
  let c = clocks.get(ms)
  if (c && c.timer === undefined && Date.now() - c.idleSince > ms) c = undefined
  if (!c) {
    const t = Date.now()
    c = { now: t, subs: new Set(), timer: undefined, idleSince: t }
    clocks.set(ms, c)
  }
  return c
}

// clockNow is the time of the clock's last tick (stable between ticks, as
// useSyncExternalStore wants).
export function clockNow(ms: number): number {
  return clock(ms).now
}

// subscribeClock calls fn on every tick of the `ms` clock until the returned
// function is called; the clock stops when its last listener leaves.
export function subscribeClock(ms: number, fn: () => void): () => void {
  const c = clock(ms)
  c.subs.add(fn)
  if (c.timer === undefined) {
    c.timer = setInterval(() => {
      c.now = Date.now()
      for (const f of [...c.subs]) f()
    }, ms)
  }
  return () => {
    c.subs.delete(fn)
    if (c.subs.size === 0 && c.timer !== undefined) {
      clearInterval(c.timer)
      c.timer = undefined
      c.idleSince = Date.now()
    }
  }
}

// runningClocks is how many timers run (for tests).
export function runningClocks(): number {
  let n = 0
  for (const c of clocks.values()) if (c.timer !== undefined) n++
  return n
}
