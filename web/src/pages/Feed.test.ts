import { describe, expect, it } from 'vitest'
import { noTagText } from './Feed'

describe('the feed with a tag and no posts', () => {
  it('does not say "yet" (the tag\'s posts may all have been culled)', () => {
    expect(noTagText('puns', false)).toBe('No posts tagged #puns right now.')
    expect(noTagText('puns', true)).toBe('No posts tagged #puns in this window right now.')
  })
})
