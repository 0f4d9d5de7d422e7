import { describe, expect, it } from 'vitest'
import { BOARD_TOP, boardNews, isoWeek, rankChannel, withRank } from './boardRanks'
import { makePost } from '../test/fixtures'

const now = Date.parse('2026-11-27T15:00:00Z') // a Friday, ISO week 48

describe('the boards a post page follows for its rank chips', () => {
  it('names the ISO week as the server does', () => {
    expect(isoWeek(now)).toBe('2026-W48')
    expect(isoWeek(Date.parse('2026-11-23T00:00:00Z'))).toBe('2026-W48') // Monday
    expect(isoWeek(Date.parse('2026-11-22T23:59:59Z'))).toBe('2026-W47') // Sunday
    expect(isoWeek(Date.parse('2027-01-01T12:00:00Z'))).toBe('2026-W53')
    expect(isoWeek(Date.parse('2025-12-29T12:00:00Z'))).toBe('2026-W01')
  })

  it('follows a board while the post is in its top 20, today\'s and this week\'s boards only for a post of today and this week', () => {
    const p = makePost({ created_at: '2026-11-27T09:00:00Z', ranks: { hot: 1, top: 20, top_day: 2, top_week: 3 } })
    expect(rankChannel(p, 'hot', now)).toBe('board:hot')
    expect(rankChannel(p, 'top', now)).toBe('board:top:all')
    expect(rankChannel(p, 'top_day', now)).toBe('board:top:day')
    expect(rankChannel(p, 'top_week', now)).toBe('board:top:week')
    // Below the top 20: no board message would speak of it.
    expect(rankChannel({ ...p, ranks: { top: BOARD_TOP + 1 } }, 'top', now)).toBeNull()
    expect(rankChannel({ ...p, ranks: {} }, 'hot', now)).toBeNull()
    // ranks.top_day is the board of the day it was created; board:top:day is today's.
    const monday = { ...p, created_at: '2026-11-23T09:00:00Z' }
    expect(rankChannel(monday, 'top_day', now)).toBeNull()
    expect(rankChannel(monday, 'top_week', now)).toBe('board:top:week')
    expect(rankChannel({ ...p, created_at: '2026-11-20T09:00:00Z' }, 'top_week', now)).toBeNull()
    // A culled or removed post holds no rank.
    expect(rankChannel({ ...p, status: 'culled' }, 'hot', now)).toBeNull()
  })
})

describe('a board message about the post', () => {
  const item = (id: string, rank: number) => ({ id, rank, score: 1, item: makePost({ id }) })

  it('gives its rank when another post overtakes it (moved), or when it enters', () => {
    expect(boardNews('7', { ch: 'board:top:all', type: 'diff', v: 2, data: { entered: [item('9', 1)], left: ['3'], moved: [{ id: '7', from: 1, to: 2 }], scores: [] } })).toEqual({ rank: 2 })
    expect(boardNews('7', { ch: 'board:hot', type: 'diff', v: 2, data: { entered: [item('7', 5)], left: [], moved: [], scores: [] } })).toEqual({ rank: 5 })
    expect(boardNews('7', { ch: 'board:hot', type: 'snapshot', v: 2, data: { items: [item('1', 1), item('7', 2)] } })).toEqual({ rank: 2 })
  })

  it('asks for the post to be read again when it falls out of the top', () => {
    expect(boardNews('7', { ch: 'board:hot', type: 'diff', v: 2, data: { entered: [item('9', 20)], left: ['7'], moved: [], scores: [] } })).toEqual({ reread: true })
    expect(boardNews('7', { ch: 'board:hot', type: 'snapshot', v: 2, data: { items: [item('1', 1)] } })).toEqual({ reread: true })
  })

  it('says nothing of a message that does not concern it', () => {
    expect(boardNews('7', { ch: 'board:hot', type: 'diff', v: 2, data: { entered: [], left: [], moved: [{ id: '8', from: 3, to: 4 }], scores: [{ id: '7', score: 2 }] } })).toEqual({})
    expect(boardNews('7', { ch: 'board:hot', type: 'resync', v: 0, data: undefined })).toEqual({})
  })

  it('changes the chip of a ready post only', () => {
    const p = makePost({ ranks: { top: 1, hot: 4 } })
    expect(withRank(p, 'top', 2).ranks).toEqual({ top: 2, hot: 4 })
    expect(withRank(p, 'top', 1)).toBe(p)
    const c = makePost({ status: 'culled', ranks: {} })
    expect(withRank(c, 'top', 2)).toBe(c)
  })
})
