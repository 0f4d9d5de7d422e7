// Images, GIFs and videos, shown well: the space is reserved from the known
// size (no layout jumps), images load lazily, GIFs show their poster until
// they scroll into view (or are tapped, with reduced motion), and videos
// load nothing but their poster until played.

import { useState } from 'react'
import type { Post } from '../api/types'
import { useInView, usePrefersReducedMotion } from '../lib/hooks'

export function Media({ post, full = false }: { post: Post; full?: boolean }) {
  const m = post.media
  const reduced = usePrefersReducedMotion()
  const [ref, inView] = useInView<HTMLDivElement>('100px')
  const [play, setPlay] = useState(false)
  if (!m) return null
  const w = m.width ?? 4
  const h = m.height ?? 3
  // Very tall images are capped in the feed; the post page shows them whole.
  const ratio = full ? `${w} / ${h}` : `${w} / ${Math.min(h, w * 1.25)}`
  const alt = post.caption ? post.caption.slice(0, 140) : `${post.kind} by ${post.author.display_name}`
  if (post.kind === 'video') {
    return (
      <div className="media" style={{ aspectRatio: ratio }}>
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
      <div className="media" ref={ref} style={{ aspectRatio: ratio }}>
        <img src={animate ? m.url : (m.poster_url ?? m.thumb_url ?? m.url)} alt={alt} loading="lazy" decoding="async" width={w} height={h} className={full ? 'contain' : ''} />
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
    <div className="media" style={{ aspectRatio: ratio }}>
      <img src={m.url} alt={alt} loading="lazy" decoding="async" width={w} height={h} className={full ? 'contain' : ''} />
    </div>
  )
}

export function Thumb({ post, size = 56 }: { post: Post; size?: number }) {
  const m = post.media
  if (!m) return <span className="thumb thumb-text" style={{ width: size, height: size }} aria-hidden="true">Aa</span>
  return <img className="thumb" src={m.thumb_url ?? m.poster_url ?? m.url} alt="" loading="lazy" width={size} height={size} style={{ width: size, height: size }} />
}
