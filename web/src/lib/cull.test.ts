import { describe, expect, it } from 'vitest'
import { culledLine, culledPostsLabel, ratingsText, safetyText, survivedLabel } from './cull'

describe('cull words', () => {
  const now = Date.parse('2026-01-01T12:00:00Z')

  it('says when and where a post was culled, without the cycle number', () => {
    expect(culledLine({ at: '2026-01-01T11:53:00Z', rank: 7, cycle: 14965118, run_id: '11' }, now)).toBe('Culled 7 minutes ago at rank #7')
    expect(culledLine({ rank: 3 }, now)).toBe('Culled at rank #3')
    expect(culledLine({}, now)).toBe('Culled')
  })

  it('counts ratings in the singular and the plural, and says when there are none', () => {
    expect(ratingsText({ count: 1, average: 3 })).toBe('1 rating, avg 3.0')
    expect(ratingsText({ count: 2, average: 4.25 })).toMatch(/^2 ratings, avg 4\.[23]$/)
    expect(ratingsText({ count: 0, average: 0 })).toBe('no ratings yet')
  })

  it('explains a tie lost on age instead of "0.000 points"', () => {
    expect(safetyText({ places: 1, distance: 0 })).toBe('needs to overtake 1 post (tied on score: the older post loses the tie)')
    expect(safetyText({ places: 3, distance: 0.1234 })).toBe('needs to overtake 3 posts (0.123 points behind)')
    expect(safetyText({ places: 2, distance: 0.0002 })).toBe('needs to overtake 2 posts (less than 0.001 points behind)')
    expect(safetyText({ places: 2, distance: null })).toBe('needs to overtake 2 posts')
    expect(safetyText({})).toBeNull()
  })
})

describe('an author\'s cull numbers', () => {
  it('count posts, not culls', () => {
    expect(survivedLabel(3)).toBe('posts survived a cull')
    expect(survivedLabel(1)).toBe('post survived a cull')
    expect(survivedLabel(0)).toBe('posts survived a cull')
    expect(culledPostsLabel(2)).toBe('posts culled')
    expect(culledPostsLabel(1)).toBe('post culled')
  })
})
