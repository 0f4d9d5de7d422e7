import { afterEach, describe, expect, it, vi } from 'vitest'
import { boardChanged, boardChannel, BOARD_CHANGED } from './Leaderboards'

describe('boardChanged', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('reads the board once, a random wait after the first of a burst of messages', async () => {
    vi.useFakeTimers()
    const reads: number[] = []
    const start = Date.now()
    const c = boardChanged(() => reads.push(Date.now() - start), () => 0.5) // this viewer waits 1.625 s
    c.fire()
    await vi.advanceTimersByTimeAsync(1000)
    c.fire()
    c.fire()
    expect(reads).toEqual([])
    await vi.advanceTimersByTimeAsync(700)
    expect(reads).toEqual([1625])
    await vi.advanceTimersByTimeAsync(10_000)
    expect(reads).toHaveLength(1)
    // A message after the read: another read, after another wait.
    c.fire()
    await vi.advanceTimersByTimeAsync(3000)
    expect(reads).toHaveLength(2)
  })

  it('spreads the viewers over 0.25 to 3 s', async () => {
    vi.useFakeTimers()
    expect(BOARD_CHANGED).toEqual({ minMs: 250, maxMs: 3000 })
    const at = async (r: number) => {
      const start = Date.now()
      let when = -1
      boardChanged(() => (when = Date.now() - start), () => r).fire()
      await vi.advanceTimersByTimeAsync(5000)
      return when
    }
    expect(await at(0)).toBe(250)
    expect(await at(0.5)).toBe(1625)
    expect(await at(0.999)).toBeGreaterThan(2990)
    expect(await at(0.999)).toBeLessThanOrEqual(3000)
  })

  it('drops a read still waiting when it is stopped (another board shown, or the page left)', async () => {
    vi.useFakeTimers()
    const read = vi.fn()
    const c = boardChanged(read, () => 0)
    c.fire()
    c.stop()
    await vi.advanceTimersByTimeAsync(5000)
    expect(read).not.toHaveBeenCalled()
  })
})

describe('boardChannel', () => {
  it('names the live channel of each board', () => {
    expect(boardChannel('hot', 'all', '', 'top')).toBe('board:hot')
    expect(boardChannel('top', 'week', '', 'top')).toBe('board:top:week')
    expect(boardChannel('creators', 'all', '', 'top')).toBe('board:creators')
  })
})
