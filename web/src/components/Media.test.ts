import { describe, expect, it } from 'vitest'
import { mediaBox } from './Media'

describe('mediaBox', () => {
  it('never lets a small picture grow beyond its own size', () => {
    expect(mediaBox({ width: 120, height: 90 }, { full: true, video: false })).toEqual({ aspectRatio: '120 / 90', maxWidth: '120px' })
    expect(mediaBox({ width: 120, height: 90 }, { full: false, video: false })).toEqual({ aspectRatio: '120 / 90', maxWidth: '120px' })
  })

  it('gives a tall picture a capped box in lists, wide enough to show it whole at up to its size', () => {
    // 400×1600 in a 4:5 box: the picture is scaled by boxHeight / 1600, so
    // the box may be 1280 px wide before the picture would be enlarged.
    expect(mediaBox({ width: 400, height: 1600 }, { full: false, video: false })).toEqual({ aspectRatio: '400 / 500', maxWidth: '1280px' })
    expect(mediaBox({ width: 400, height: 1600 }, { full: true, video: false })).toEqual({ aspectRatio: '400 / 1600', maxWidth: '400px' })
  })

  it('lets videos and pictures of unknown size take the width', () => {
    expect(mediaBox({ width: 320, height: 240 }, { full: true, video: true })).toEqual({ aspectRatio: '320 / 240' })
    expect(mediaBox({ width: null, height: null }, { full: false, video: false })).toEqual({ aspectRatio: '4 / 3' })
  })
})
