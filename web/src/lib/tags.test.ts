import { describe, expect, it } from 'vitest'
import { parseTags } from './tags'

describe('parseTags', () => {
  it('splits on commas only, and trims', () => {
    expect(parseTags('cats, fails,puns')).toEqual(['cats', 'fails', 'puns'])
    expect(parseTags('funny cats, dogs')).toEqual(['funny cats', 'dogs'])
    expect(parseTags('  #Puns ,  ,#puns, Dad_Jokes ')).toEqual(['puns', 'dad_jokes'])
    expect(parseTags('')).toEqual([])
  })
})
