import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MoveMarks, type MoveDir } from './moveMarks'

function setup(ms = 2000) {
  let shown = new Map<string, MoveDir>()
  const m = new MoveMarks((next) => {
    shown = next
  }, ms)
  return { m, shown: () => Object.fromEntries(shown) }
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('MoveMarks', () => {
  it('marks rows that moved up or down, and clears them after a while', () => {
    const t = setup()
    t.m.update(['a', 'b', 'c'])
    expect(t.shown()).toEqual({})
    t.m.update(['b', 'a', 'c'])
    expect(t.shown()).toEqual({ b: 'up', a: 'down' })
    vi.advanceTimersByTime(1999)
    expect(t.shown()).toEqual({ b: 'up', a: 'down' })
    vi.advanceTimersByTime(1)
    expect(t.shown()).toEqual({})
  })

  it('does not keep markers when the next order moves nobody (a row entered at the bottom)', () => {
    const t = setup()
    t.m.update(['a', 'b'])
    t.m.update(['b', 'a'])
    expect(t.shown()).toEqual({ b: 'up', a: 'down' })
    vi.advanceTimersByTime(500)
    t.m.update(['b', 'a', 'c'])
    expect(t.shown()).toEqual({})
    vi.advanceTimersByTime(10_000)
    expect(t.shown()).toEqual({})
  })

  it('replaces the markers of one change by those of the next, each on its own clock', () => {
    const t = setup()
    t.m.update(['a', 'b', 'c'])
    t.m.update(['b', 'a', 'c'])
    vi.advanceTimersByTime(1500)
    t.m.update(['b', 'c', 'a'])
    expect(t.shown()).toEqual({ c: 'up', a: 'down' })
    vi.advanceTimersByTime(1999)
    expect(t.shown()).toEqual({ c: 'up', a: 'down' })
    vi.advanceTimersByTime(1)
    expect(t.shown()).toEqual({})
  })

  it('leaves nothing pending once disposed', () => {
    const t = setup()
    t.m.update(['a', 'b'])
    t.m.update(['b', 'a'])
    t.m.dispose()
    expect(vi.getTimerCount()).toBe(0)
  })
})
