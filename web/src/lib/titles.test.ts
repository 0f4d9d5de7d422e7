import { describe, expect, it } from 'vitest'
import { postTitle, profileTitle } from './titles'

describe('page titles', () => {
  it('names a missing post or user "Not found"', () => {
    expect(postTitle('99999', undefined, { status: 404 })).toBe('Not found')
    expect(profileTitle('nobody', null, { status: 404 })).toBe('Not found')
  })

  it('names what is there', () => {
    expect(postTitle('4', { caption: 'Tall meme' }, null)).toBe('Tall meme')
    expect(postTitle('4', { caption: '' }, null)).toBe('Post 4')
    expect(postTitle('4', undefined, null)).toBe('Post')
    expect(profileTitle('bob', { username: 'bob', display_name: 'Bob' }, null)).toBe('Bob (@bob)')
    expect(profileTitle('bob', null, { status: 500 })).toBe('bob')
  })
})
