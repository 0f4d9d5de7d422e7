import { describe, expect, it } from 'vitest'
import { histogramHead } from './Stats'

describe('histogramHead', () => {
  it('shows no lone dash for a post nobody rated', () => {
    expect(histogramHead({ count: 0, average: 0, laughs: 0 }, true)).toEqual({ avg: null, text: 'No ratings yet. Be the first.' })
    expect(histogramHead({ count: 0, average: 0, laughs: 0 }, false)).toEqual({ avg: null, text: 'Nobody rated it.' })
  })
  it('shows the average of the ratings', () => {
    expect(histogramHead({ count: 1, average: 5, laughs: 5 }, true)).toEqual({ avg: '5.00', text: 'average of 1 rating · 5 laughs' })
  })
})
