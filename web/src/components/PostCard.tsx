import { memo, useEffect } from 'react'
import { markVisible } from '../lib/visible'
import { Link } from 'react-router'
import type { Post } from '../api/types'
import { usePost, updatePost } from '../lib/postStore'
import { useChannel } from '../live/live'
import { applyPostEvent } from '../live/merge'
import { useInView } from '../lib/hooks'
import { TimeAgo } from './TimeAgo'
import { Avatar } from './Avatar'
import { Media } from './Media'
import { LaughRating, Reactions } from './PostActions'
import { StatsLine } from './Stats'

export function AuthorLine({ post }: { post: Post }) {
  return (
    <div className="author-line">
      <Link to={`/u/${post.author.username}`} className="author">
        <Avatar name={post.author.display_name || post.author.username} url={post.author.photo_url} size={32} />
        <span>
          <span className="display-name">{post.author.display_name}</span> <span className="muted">@{post.author.username}</span>
        </span>
      </Link>
      <Link to={`/p/${post.id}`} className="muted time">
        <TimeAgo iso={post.created_at} />
      </Link>
    </div>
  )
}

export function Tags({ tags }: { tags: string[] }) {
  if (!tags.length) return null
  return (
    <ul className="tags" aria-label="Tags">
      {tags.map((t) => (
        <li key={t}>
          <Link to={`/?tab=hot&tag=${encodeURIComponent(t)}`}>#{t}</Link>
        </li>
      ))}
    </ul>
  )
}

// PostCard shows one post of a list; while it is on screen it follows the
// post's live channel, so ratings update in place.
export const PostCard = memo(function PostCard({ id, rank }: { id: string; rank?: number }) {
  const post = usePost(id)
  const [ref, inView] = useInView<HTMLElement>('300px')
  const known = !!post
  useChannel(known && inView ? `post:${id}` : null, (ev) => {
    if (ev.type === 'resync' || ev.type === 'error') return
    updatePost(id, (p) => applyPostEvent(p, ev).post)
  })
  useEffect(() => {
    markVisible(id, inView)
    return () => markVisible(id, false)
  }, [id, inView])
  if (!post) return null
  const textOnly = post.kind === 'text'
  return (
    <article className={`card post-card status-${post.status}`} ref={ref} data-post-id={post.id} aria-labelledby={`cap-${post.id}`}>
      <AuthorLine post={post} />
      {rank !== undefined && <span className="card-rank">#{rank}</span>}
      {textOnly ? (
        <Link to={`/p/${post.id}`} className="text-joke" id={`cap-${post.id}`}>
          {post.caption}
        </Link>
      ) : (
        <>
          <Link to={`/p/${post.id}`} className="media-link" aria-label={`Open post ${post.id}`}>
            <Media post={post} />
          </Link>
          {post.caption && (
            <p className="caption" id={`cap-${post.id}`}>
              {post.caption}
            </p>
          )}
        </>
      )}
      <TagsRow post={post} />
      <div className="card-foot">
        <LaughRating post={post} />
        <StatsLine stats={post.stats} />
      </div>
      <div className="card-foot">
        <Reactions post={post} />
        <Link to={`/p/${post.id}#comments`} className="comment-link">
          <span aria-hidden="true">💬</span> {post.comment_count} <span className="sr-only">comments</span>
        </Link>
      </div>
    </article>
  )
})

function TagsRow({ post }: { post: Post }) {
  return <Tags tags={post.tags} />
}

