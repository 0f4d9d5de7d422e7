// Images, GIFs and videos, shown well: the space is reserved from the known
// size (no layout jumps), images load lazily, GIFs show their poster until
// they scroll into view (or are tapped, with reduced motion), and videos
// load nothing but their poster until played.

import { useState, type CSSProperties } from 'react'
import type { Post, PostMedia } from '../api/types'
import { useInView, usePrefersReducedMotion } from '../lib/hooks'

// FEED_MAX_RATIO: in lists a picture's box is at most this tall for its
// width (4:5); a taller picture is shown whole inside it, letterboxed, and
// the post page shows it at its own proportions.
const FEED_MAX_RATIO = 1.25

// mediaBox is the style of a picture's box: the space it takes before it
// loads (its proportions), and a maximum width that keeps a picture from
// being blown up beyond its own size (a 120×90 GIF stays 120×90, sharp).
// Videos take the width they are given, as players do.
export function mediaBox(m: Pick<PostMedia, 'width' | 'height'>, opts: { full: boolean; video: boolean }): CSSProperties {
  const w = m.width ?? 4
  const h = m.height ?? 3
  const boxH = opts.full ? h : Math.min(h, w * FEED_MAX_RATIO)
  const style: CSSProperties = { aspectRatio: `${w} / ${boxH}` }
  // The picture is scaled to fit the box (object-fit: contain): it is not
  // enlarged while the box is no wider than w × h / boxH.
  if (!opts.video && m.width && m.height) style.maxWidth = `${Math.round((w * h) / boxH)}px`
  return style
}

// mediaGone: a culled or removed post has lost its media (the API answers
// without it once the files are collected, which follows the cull or the
// removal by a moment): whatever copy a page holds, its files are gone or
// going, so none is shown.
export function mediaGone(post: Pick<Post, 'status'>): boolean {
  return post.status === 'culled' || post.status === 'removed'
}

// mediaGoneText: "The picture is gone: culled posts lose their media."
export function mediaGoneText(post: Pick<Post, 'status' | 'kind'>): string {
  const what = post.kind === 'video' ? 'video' : post.kind === 'gif' ? 'GIF' : 'picture'
  return `The ${what} is gone: ${post.status === 'removed' ? 'removed' : 'culled'} posts lose their media.`
}

export function Media({ post, full = false }: { post: Post; full?: boolean }) {
  const m = post.media
  const reduced = usePrefersReducedMotion()
  const [ref, inView] = useInView<HTMLDivElement>('100px')
  const [play, setPlay] = useState(false)
  if (mediaGone(post)) {
    if (post.kind === 'text') return null
    return (
      <div className="media-gone muted" data-testid="media-gone">
        <span aria-hidden="true">🗑</span> {mediaGoneText(post)}
      </div>
    )
  }
  if (!m) return null
  const w = m.width ?? 4
  const h = m.height ?? 3
  const box = mediaBox(m, { full, video: post.kind === 'video' })
  const alt = post.caption ? post.caption.slice(0, 140) : `${post.kind} by ${post.author.display_name}`
  if (post.kind === 'video') {
    return (
      <div className="media" style={box}>
        <video
          src={m.url}
          poster={m.poster_url ?? undefined}
          controls
          playsInline
          preload="none"
          loop
          aria-label={alt}
          width={w}
          height={h}
        />
      </div>
    )
  }
  if (post.kind === 'gif') {
    const animate = (inView && !reduced) || play
    return (
      <div className="media" ref={ref} style={box}>
        <img src={animate ? m.url : (m.poster_url ?? m.thumb_url ?? m.url)} alt={alt} loading="lazy" decoding="async" width={w} height={h} />
        {!animate && (
          <button className="gif-play" onClick={() => setPlay(true)} aria-label="Play GIF">
            GIF ▶
          </button>
        )}
        {animate && <span className="gif-badge" aria-hidden="true">GIF</span>}
      </div>
    )
  }
  return (
    <div className="media" style={box}>
      <img src={m.url} alt={alt} loading="lazy" decoding="async" width={w} height={h} />
    </div>
  )
}

export function Thumb({ post, size = 56 }: { post: Post; size?: number }) {
  const m = mediaGone(post) ? null : post.media
  if (mediaGone(post) && post.kind !== 'text')
    return (
      <span className="thumb thumb-text" style={{ width: size, height: size }} aria-hidden="true">
        🗑
      </span>
    )
  if (!m) return <span className="thumb thumb-text" style={{ width: size, height: size }} aria-hidden="true">Aa</span>
  return <img className="thumb" src={m.thumb_url ?? m.poster_url ?? m.url} alt="" loading="lazy" width={size} height={size} style={{ width: size, height: size }} />
}
