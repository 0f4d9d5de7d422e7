// Rating (tap 1–5 laughs) and reactions. Both update the shared post store
// at once and then with the server's answer.

import { useState } from 'react'
import { useNavigate } from 'react-router'
import { api, errorMessage } from '../api/client'
import { REACTIONS, type Post, type ReactionKind } from '../api/types'
import { liveMark, putPost, updatePost } from '../lib/postStore'
import { refreshPosts } from '../lib/postFetch'
import { useAuth } from '../auth/auth'
import { useToast } from './Toasts'

const LABELS = ['', 'meh', 'smirk', 'chuckle', 'laugh', 'tears']

// ratingLabel: the words beside the laughs. A post that takes no more
// ratings (culled, removed, processing) does not invite one.
export function ratingLabel(o: { own: boolean; closed: boolean; status?: string; shown: number; signedIn: boolean }): string {
  if (o.own) return 'your post'
  if (o.closed) return o.status === 'processing' ? 'not open yet' : 'ratings closed'
  if (o.shown) return LABELS[o.shown]
  return o.signedIn ? 'rate it' : 'log in to rate'
}

export function LaughRating({ post, compact = false }: { post: Post; compact?: boolean }) {
  const { me } = useAuth()
  const toast = useToast()
  const navigate = useNavigate()
  const [hover, setHover] = useState(0)
  const [busy, setBusy] = useState(false)
  const own = me?.id === post.author.id
  const closed = post.status !== 'ready'
  const mine = post.my_rating ?? 0

  async function rate(stars: number) {
    if (!me) {
      navigate('/login?next=' + encodeURIComponent(location.pathname + location.search))
      return
    }
    if (own || closed || busy) return
    const withdraw = stars === mine
    const before = post.my_rating
    updatePost(post.id, (p) => ({ ...p, my_rating: withdraw ? null : stars }))
    setBusy(true)
    try {
      const since = liveMark()
      const p = withdraw
        ? await api<Post>(`/posts/${post.id}/rating`, { method: 'DELETE' })
        : await api<Post>(`/posts/${post.id}/rating`, { method: 'PUT', body: { stars } })
      putPost(p, since)
    } catch (e) {
      updatePost(post.id, (p) => ({ ...p, my_rating: before }))
      toast(errorMessage(e), 'error')
    } finally {
      setBusy(false)
    }
  }

  const shown = hover || mine
  const title = own ? "You can't rate your own post" : closed ? 'This post takes no more ratings' : 'Rate it: 1 to 5 laughs'
  return (
    <div className={`rating${compact ? ' rating-compact' : ''}`} role="radiogroup" aria-label={title} title={title} onMouseLeave={() => setHover(0)}>
      {[1, 2, 3, 4, 5].map((n) => (
        <button
          key={n}
          type="button"
          role="radio"
          aria-checked={mine === n}
          aria-label={`${n} ${n === 1 ? 'laugh' : 'laughs'} (${LABELS[n]})${mine === n ? ', your rating: press again to withdraw' : ''}`}
          className={`laugh${n <= shown ? ' on' : ''}${mine === n ? ' mine' : ''}`}
          disabled={own || closed}
          onMouseEnter={() => setHover(n)}
          onFocus={() => setHover(n)}
          onBlur={() => setHover(0)}
          onClick={() => void rate(n)}
          data-stars={n}
        >
          <span aria-hidden="true">😂</span>
        </button>
      ))}
      {!compact && (
        <span className="rating-label" aria-hidden="true">
          {ratingLabel({ own, closed, status: post.status, shown, signedIn: !!me })}
        </span>
      )}
    </div>
  )
}

export function Reactions({ post }: { post: Post }) {
  const { me } = useAuth()
  const toast = useToast()
  const navigate = useNavigate()
  const closed = post.status !== 'ready'

  async function toggle(kind: ReactionKind) {
    if (!me) {
      navigate('/login?next=' + encodeURIComponent(location.pathname + location.search))
      return
    }
    const had = post.my_reactions.includes(kind)
    updatePost(post.id, (p) => ({
      ...p,
      my_reactions: had ? p.my_reactions.filter((k) => k !== kind) : [...p.my_reactions, kind].sort(),
      reactions: { ...p.reactions, [kind]: Math.max(0, (p.reactions[kind] ?? 0) + (had ? -1 : 1)) },
    }))
    try {
      const since = liveMark()
      putPost(await api<Post>(`/posts/${post.id}/reactions/${kind}`, { method: had ? 'DELETE' : 'PUT' }), since)
    } catch (e) {
      toast(errorMessage(e), 'error')
      await refreshPosts([post.id])
    }
  }

  return (
    <div className="reactions" role="group" aria-label="Reactions">
      {REACTIONS.map(([kind, emoji]) => {
        const n = post.reactions[kind] ?? 0
        const mine = post.my_reactions.includes(kind)
        if (closed && n === 0) return null
        return (
          <button
            key={kind}
            type="button"
            className={`reaction${mine ? ' mine' : ''}${n === 0 ? ' zero' : ''}`}
            aria-pressed={mine}
            aria-label={`${kind}: ${n}`}
            disabled={closed}
            onClick={() => void toggle(kind)}
          >
            <span aria-hidden="true">{emoji}</span>
            {n > 0 && <span className="reaction-count">{n}</span>}
          </button>
        )
      })}
    </div>
  )
}
