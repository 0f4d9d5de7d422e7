import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { clockNow, runningClocks, subscribeClock } from './clock'

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(new Date('2026-01-01T00:00:00Z'))
})
afterEach(() => {
  vi.useRealTimers()
})

describe('shared clocks', () => {
  it('runs one timer for every listener of a period, and ticks them all', () => {
    const a = vi.fn()
    const b = vi.fn()
    const offA = subscribeClock(30_000, a)
    const offB = subscribeClock(30_000, b)
    expect(runningClocks()).toBe(1)
    expect(vi.getTimerCount()).toBe(1)
    const before = clockNow(30_000)
    vi.advanceTimersByTime(30_000)
    expect(a).toHaveBeenCalledTimes(1)
    expect(b).toHaveBeenCalledTimes(1)
    expect(clockNow(30_000)).toBe(before + 30_000)
    offA()
    vi.advanceTimersByTime(30_000)
    expect(a).toHaveBeenCalledTimes(1)
    expect(b).toHaveBeenCalledTimes(2)
    offB()
    expect(runningClocks()).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('keeps the time stable between ticks and starts afresh after a pause', () => {
    const off = subscribeClock(60_000, () => {})
    const t = clockNow(60_000)
    vi.advanceTimersByTime(59_000)
    expect(clockNow(60_000)).toBe(t)
    off()
    vi.advanceTimersByTime(10 * 60_000)
    expect(clockNow(60_000)).toBe(Date.now())
  })

  // useSyncExternalStore re-subscribes when its subscribe function changes:
  // a time that moved on each re-subscription would render forever
  // ("Maximum update depth exceeded" once a countdown ended).
  it('gives the same time to a listener that leaves and comes back at once', () => {
    vi.advanceTimersByTime(123_456)
    let off = subscribeClock(1000, () => {})
    const t = clockNow(1000)
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(7) // time passes between renders
      off()
      expect(clockNow(1000)).toBe(t)
      off = subscribeClock(1000, () => {})
      expect(clockNow(1000)).toBe(t)
    }
    off()
    expect(vi.getTimerCount()).toBe(0)
  })
})
