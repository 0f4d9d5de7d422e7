import { afterEach, describe, expect, it, vi } from 'vitest'
import { acceptList, checkFile, FALLBACK_RULES, forgetPostRules, loadPostRules, postRules, readRules, tagsProblem, uploadHint } from './rules'

// What a server without ffmpeg answers (GET /api/v1/posts/rules).
const noVideos = {
  max_bytes: 10 * 1024 * 1024,
  max_pixels: 40_000_000,
  max_gif_frames: 500,
  formats: ['jpeg', 'png', 'gif', 'webp'],
  videos: false,
  max_video_seconds: 0,
  max_caption_chars: 280,
  max_comment_chars: 400,
  max_tags: 5,
  max_tag_chars: 30,
}

const MB = 1024 * 1024

describe('the post rules', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    forgetPostRules()
  })

  it('offer no videos where the server takes none: accept, hint and a message before uploading', () => {
    const r = readRules(noVideos)
    expect(acceptList(r)).toEqual(['image/jpeg', 'image/png', 'image/gif', 'image/webp'])
    expect(uploadHint(r)).toBe('JPEG, PNG, GIF or WebP · up to 10.0 MB · no videos on this server')
    expect(uploadHint(r)).not.toMatch(/60 s/)
    expect(checkFile({ name: 'cat.mp4', type: 'video/mp4', size: MB }, r)).toBe(
      'cat.mp4 is a video, and this server does not take videos: post a picture or a GIF instead.',
    )
    // A video the browser has no type for is known by its name.
    expect(checkFile({ name: 'cat.webm', type: '', size: MB }, r)).toMatch(/does not take videos/)
    expect(checkFile({ name: 'cat.png', type: 'image/png', size: MB }, r)).toBeNull()
  })

  it('never offer a video format without videos, whatever the list says', () => {
    const r = readRules({ ...noVideos, formats: ['jpeg', 'mp4'] })
    expect(r.formats).toEqual(['jpeg'])
    expect(r.max_video_seconds).toBe(0)
  })

  it('check the size against the server\'s maximum, not the default one', () => {
    const r = readRules(noVideos)
    const f = { name: 'big.png', type: 'image/png', size: 20 * MB }
    expect(checkFile(f, FALLBACK_RULES)).toBeNull()
    expect(checkFile(f, r)).toBe('big.png is 20.0 MB; the limit is 10.0 MB.')
    expect(checkFile({ ...f, size: 0 }, r)).toBe('big.png is empty.')
    expect(checkFile({ name: 'a.bmp', type: 'image/bmp', size: 10 }, r)).toBe('a.bmp: only JPEG, PNG, GIF or WebP files can be posted.')
  })

  it('say what the defaults said before, and the server\'s video length when it has one', () => {
    expect(uploadHint(FALLBACK_RULES)).toBe('JPEG, PNG, GIF, WebP, MP4 or WebM · up to 50.0 MB · videos up to 60 s')
    const r = readRules({ ...noVideos, videos: true, formats: ['jpeg', 'png', 'gif', 'webp', 'mp4', 'webm'], max_video_seconds: 30 })
    expect(acceptList(r)).toContain('video/webm')
    expect(uploadHint(r)).toMatch(/videos up to 30 s$/)
  })

  it('keep the defaults for fields missing or malformed', () => {
    const r = readRules({ max_bytes: 'lots', videos: true })
    expect(r).toEqual(FALLBACK_RULES)
  })

  it('limit the tags', () => {
    const r = readRules(noVideos)
    expect(tagsProblem(['a', 'b', 'c', 'd', 'e'], r)).toBeNull()
    expect(tagsProblem(['a', 'b', 'c', 'd', 'e', 'f'], r)).toBe('at most 5 tags, please (you have 6)')
    expect(tagsProblem(['x'.repeat(31)], r)).toMatch(/too long: a tag has at most 30 characters/)
  })

  it('are read once per session', async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify(noVideos), { status: 200 }))
    vi.stubGlobal('fetch', fetch)
    expect(postRules()).toBe(FALLBACK_RULES)
    const [a, b] = await Promise.all([loadPostRules(), loadPostRules()])
    const c = await loadPostRules()
    expect(a.videos).toBe(false)
    expect(b).toBe(a)
    expect(c).toBe(a)
    expect(postRules()).toBe(a)
    expect(fetch).toHaveBeenCalledTimes(1)
    expect(String((fetch.mock.calls[0] as unknown[])[0])).toBe('/api/v1/posts/rules')
  })

  it('fall back to the defaults when the request fails', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('<html>bad gateway</html>', { status: 502 })))
    expect(await loadPostRules()).toEqual(FALLBACK_RULES)
    expect(postRules()).toBe(FALLBACK_RULES)
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('Failed to fetch')
      }),
    )
    forgetPostRules()
    expect(await loadPostRules()).toEqual(FALLBACK_RULES)
  })
})
