import { describe, expect, it } from 'vitest'
import { normalizeTag, parseTags, tagBoardChannel } from './tags'
import { boardChannel } from '../pages/Leaderboards'

describe('parseTags', () => {
  it('splits on commas only, and trims', () => {
    expect(parseTags('cats, fails,puns')).toEqual(['cats', 'fails', 'puns'])
    expect(parseTags('funny cats, dogs')).toEqual(['funny cats', 'dogs'])
    expect(parseTags('  #Puns ,  ,#puns, Dad_Jokes ')).toEqual(['puns', 'dad_jokes'])
    expect(parseTags('')).toEqual([])
  })

  it('normalises as the server does, so the same tag typed two ways is one', () => {
    expect(parseTags('ｃａｔｓ, Cats, ＃ＣＡＴＳ')).toEqual(['cats'])
  })
})

describe('normalizeTag: as the server (Go: NFKC, strings.ToLower, leading # stripped)', () => {
  it('folds compatibility forms (full width letters and #) and case', () => {
    expect(normalizeTag('ｃａｔｓ')).toBe('cats')
    expect(normalizeTag('ＣＡＴＳ')).toBe('cats')
    expect(normalizeTag('＃Ｃａｔｓ')).toBe('cats')
    expect(normalizeTag('##Cats ')).toBe('cats')
    expect(normalizeTag('ﬁsh')).toBe('fish') // the ligature
    expect(normalizeTag('cafe\u0301')).toBe('caf\u00e9') // composed
  })

  it('lowers letter by letter, as Go does', () => {
    // A final sigma stays σ (Go), not ς (String.prototype.toLowerCase).
    expect(normalizeTag('ΓΑΤΟΣ')).toBe('γατοσ')
    // İ is i (Go's simple mapping), not i and a combining dot.
    expect(normalizeTag('İstanbul')).toBe('istanbul')
    expect(normalizeTag('Straße')).toBe('straße')
  })

  it('is its own fixed point: a normalised tag is sent as it is', () => {
    for (const t of ['ｃａｔｓ', 'ΓΑΤΟΣ', 'İstanbul', '#Dad_Jokes', 'ﬁsh']) expect(normalizeTag(normalizeTag(t))).toBe(normalizeTag(t))
  })
})

describe('tag board channels', () => {
  it('carry the tag as the server names the board (its messages come under that name)', () => {
    expect(tagBoardChannel('ｃａｔｓ', 'top')).toBe('board:tag:cats:top')
    expect(tagBoardChannel('#Cats', 'hot')).toBe('board:tag:cats:hot')
    expect(tagBoardChannel('', 'top')).toBeNull()
    expect(tagBoardChannel('#', 'top')).toBeNull()
    expect(boardChannel('tag', 'all', 'ｃａｔｓ', 'top')).toBe('board:tag:cats:top')
    expect(boardChannel('tag', 'all', 'ＣＡＴＳ', 'hot')).toBe('board:tag:cats:hot')
    expect(boardChannel('top', 'week', '', 'top')).toBe('board:top:week')
    expect(boardChannel('hot', 'all', 'cats', 'top')).toBe('board:hot')
  })
})
