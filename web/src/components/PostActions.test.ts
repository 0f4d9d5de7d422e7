import { describe, expect, it } from 'vitest'
import { ratingLabel } from './PostActions'

describe('ratingLabel', () => {
  it('does not invite a rating on a closed post', () => {
    expect(ratingLabel({ own: false, closed: true, status: 'culled', shown: 0, signedIn: true })).toBe('ratings closed')
    expect(ratingLabel({ own: false, closed: true, status: 'removed', shown: 4, signedIn: true })).toBe('ratings closed')
    expect(ratingLabel({ own: false, closed: true, status: 'culled', shown: 0, signedIn: false })).toBe('ratings closed')
  })
  it('invites one on an open post', () => {
    expect(ratingLabel({ own: false, closed: false, shown: 0, signedIn: true })).toBe('rate it')
    expect(ratingLabel({ own: false, closed: false, shown: 0, signedIn: false })).toBe('log in to rate')
    expect(ratingLabel({ own: false, closed: false, shown: 5, signedIn: true })).toBe('tears')
    expect(ratingLabel({ own: true, closed: false, shown: 0, signedIn: true })).toBe('your post')
  })
})
