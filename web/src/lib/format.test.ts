import { describe, expect, it } from 'vitest'
import { parts, sentence, timeAgo } from './format'

describe('format', () => {
  it('sentence capitalises the first letter only', () => {
    expect(sentence('already taken')).toBe('Already taken')
    expect(sentence('élan')).toBe('Élan')
    expect(sentence('')).toBe('')
    expect(sentence('OK then')).toBe('OK then')
  })

  it('parts leaves no dangling separator for missing pieces', () => {
    expect(parts('rank 7', null, '1 rating', undefined, false, '')).toBe('rank 7 · 1 rating')
    expect(parts(null, 'x')).toBe('x')
    expect(parts()).toBe('')
  })

  it('timeAgo says "just now" for a time slightly ahead of the clock', () => {
    const now = Date.parse('2026-01-01T12:00:00Z')
    expect(timeAgo('2026-01-01T12:00:20Z', now)).toBe('just now')
    expect(timeAgo('2026-01-01T11:59:50Z', now)).toBe('just now')
    expect(timeAgo('2026-01-01T11:53:00Z', now)).toMatch(/7 minutes ago/)
  })
})
