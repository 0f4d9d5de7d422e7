import { describe, expect, it } from 'vitest'
import { createElement } from 'react'
import { renderToStaticMarkup } from 'react-dom/server'
import { Media, mediaBox, Thumb } from './Media'
import { makePost } from '../test/fixtures'
import type { Post } from '../api/types'

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

describe('the media of a post out of circulation', () => {
  const media = { url: '/media/d/abc.webp', thumb_url: '/media/t/abc.webp', poster_url: null, format: 'webp', width: 640, height: 480, duration_ms: null } as unknown as Post['media']
  const image = makePost({ kind: 'image', caption: 'cat', media })

  it('shows a ready post\'s picture', () => {
    expect(renderToStaticMarkup(createElement(Media, { post: image, full: true }))).toContain('src="/media/d/abc.webp"')
    expect(renderToStaticMarkup(createElement(Thumb, { post: image }))).toContain('src="/media/t/abc.webp"')
  })

  it('shows no picture once the post is culled (its files are deleted), whatever copy the page holds', () => {
    const culled = { ...image, status: 'culled' as const }
    const html = renderToStaticMarkup(createElement(Media, { post: culled, full: true }))
    expect(html).not.toContain('<img')
    expect(html).not.toContain('abc.webp')
    expect(html).toContain('The picture is gone: culled posts lose their media.')
    expect(renderToStaticMarkup(createElement(Thumb, { post: culled }))).not.toContain('<img')
    const removed = renderToStaticMarkup(createElement(Media, { post: { ...image, kind: 'video', status: 'removed' } }))
    expect(removed).not.toContain('<video')
    expect(removed).toContain('The video is gone: removed posts lose their media.')
  })

  it('keeps a culled text joke\'s caption to itself (it has no media)', () => {
    expect(renderToStaticMarkup(createElement(Media, { post: makePost({ status: 'culled' }) }))).toBe('')
  })
})
