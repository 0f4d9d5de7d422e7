// A post: media, caption, tags, author, live histogram and average, viewers
// now, live comments, report, ranks, and what happened if it was culled or
// removed.

import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { api, ApiError, errorMessage, qs } from '../api/client'
import type { Comment, Page, Post } from '../api/types'
import { getPost, liveMark, putPost, updatePost, usePost } from '../lib/postStore'
import { useChannel, useNow, usePollWhenNotLive, useLiveState, useRetryOnReconnect } from '../live/live'
import { applyPostEvent } from '../live/merge'
import { emptyThread, heardComment, lostComment, threadMark, withPage, type Thread } from '../live/comments'
import { useAuth } from '../auth/auth'
import { useToast } from '../components/Toasts'
import { AuthorLine, Tags } from '../components/PostCard'
import { Media } from '../components/Media'
import { LaughRating, Reactions } from '../components/PostActions'
import { Histogram, Ranks } from '../components/Stats'
import { Avatar } from '../components/Avatar'
import { fullTime, sentence } from '../lib/format'
import { culledLine, needsCullDetail } from '../lib/cull'
import { Reread } from '../live/postWatch'
import { boardNews, rankChannel, withRank, type RankKey } from '../live/boardRanks'
import { parseTags } from '../lib/tags'
import { postTitle } from '../lib/titles'
import { currentPlatform, isSend, sendShortcut } from '../lib/keys'
import { isReported, markReported } from '../lib/reported'
import { TIME_AGO_MS, TimeAgo } from '../components/TimeAgo'
import { useDocumentTitle } from '../lib/hooks'
import { Spinner } from './Feed'
import { tagsProblem, usePostRules } from '../api/rules'
import { ConfirmDialog, Dialog, RemovePostDialog } from '../components/Dialog'

export default function PostPage() {
  const { id = '' } = useParams()
  const post = usePost(id)
  const { me, ready } = useAuth()
  const [error, setError] = useState<ApiError | null>(null)
  // The comments (see live/comments.ts; comment_count is the post's). The
  // ref is the truth the callbacks read; the state renders it.
  const thread = useRef<Thread>(emptyThread)
  const [shownThread, setShownThread] = useState<Thread>(emptyThread)
  const setThread = useCallback((t: Thread) => {
    thread.current = t
    setShownThread(t)
  }, [])
  const commentReads = useRef(0)
  const commentAdded = useCallback((c: Comment) => setThread(heardComment(thread.current, c)), [setThread])
  const commentRemoved = useCallback((commentId: string) => setThread(lostComment(thread.current, commentId)), [setThread])
  const comments = shownThread.comments
  const commentCursor = shownThread.cursor
  const liveState = useLiveState()
  useDocumentTitle(postTitle(id, post, error))

  const load = useCallback(async () => {
    try {
      const since = liveMark()
      putPost(await api<Post>(`/posts/${id}`), since)
      setError(null)
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'network', errorMessage(e)))
    }
  }, [id])

  const loadComments = useCallback(
    async (cursor: string | null = null) => {
      const first = cursor === null
      // The last first page asked for wins; a later page only extends the
      // list it was asked for.
      const g = first ? ++commentReads.current : commentReads.current
      const since = threadMark(thread.current)
      try {
        const page = await api<Page<Comment>>(`/posts/${id}/comments` + qs({ cursor, limit: 50 }))
        if (g !== commentReads.current || (!first && thread.current.cursor !== cursor)) return
        setThread(withPage(thread.current, page, first, since))
      } catch {
        /* the post error says enough */
      }
    },
    [id, setThread],
  )

  useEffect(() => {
    commentReads.current++
    setThread(emptyThread)
  }, [id, setThread])
  // Reads of the post that live news asks for (the post was culled: its
  // banner wants the rank and time; it fell out of a board's top 20: its
  // rank chip wants the new rank): after a short random wait, so that the
  // post's viewers do not all read at once, and one read for a burst.
  const loadRef = useRef(load)
  loadRef.current = load
  const [reread] = useState(() => new Reread(() => loadRef.current(), POST_REREAD))
  useEffect(() => {
    reread.start()
    return () => reread.stop()
  }, [reread])
  useLiveRanks(post, reread)
  // A comment posted or deleted here is counted by its live message (the
  // count it left, versioned). With no connection to hear it on, the post
  // is read again: a read sent after the answer counts the change.
  const ownChange = () => {
    if (liveState !== 'open') void load()
  }
  // Read once the session is restored (the post carries the user's rating).
  useEffect(() => {
    if (!ready) return
    void load()
    void loadComments()
  }, [load, loadComments, ready, me?.id])

  // Processing: poll until ready (the author just uploaded it).
  useEffect(() => {
    if (post?.status !== 'processing') return
    const t = setInterval(() => void load(), 1500)
    return () => clearInterval(t)
  }, [post?.status, load])

  useChannel(post ? `post:${id}` : null, (ev) => {
    if (ev.type === 'resync') return
    if (ev.type === 'snapshot') {
      // A snapshot may come after a gap: comments may have been missed.
      if (liveState === 'open') void loadComments()
    }
    let comment: Comment | undefined
    let deleted: string | undefined
    const before = getPost(id)
    updatePost(id, (p) => {
      const r = applyPostEvent(p, ev)
      comment = r.comment
      deleted = r.deletedCommentId
      return r.post
    })
    if (comment) commentAdded(comment)
    if (deleted) commentRemoved(deleted)
    // Culled while the page is open: the message names the run, not where
    // the post fell or when; GET /posts/{id} says (`culled`).
    if (needsCullDetail(before, getPost(id))) reread.request()
  })
  usePollWhenNotLive(() => {
    void load()
    void loadComments()
  }, !!post)
  // A post that could not be read (not a 404) is read again once the
  // connection is back.
  useRetryOnReconnect(() => {
    void load()
    void loadComments()
  }, !post && !!error && error.status !== 404)

  if (error && !post) {
    return (
      <div className="card empty" role="alert">
        {error.status === 404 ? (
          <>
            <h1>Post not found</h1>
            <p>It may have been deleted, or it is still being processed.</p>
          </>
        ) : (
          <p>{error.message}</p>
        )}
        <Link to="/">Back to the feed</Link>
      </div>
    )
  }
  if (!post) return <Spinner />

  return (
    <div className="post-page">
      <article className={`card post-full status-${post.status}`} data-post-id={post.id}>
        <AuthorLine post={post} />
        <StatusBanner post={post} />
        {post.kind === 'text' ? <p className="text-joke big">{post.caption}</p> : <Media post={post} full />}
        {post.kind !== 'text' && post.caption && <p className="caption big">{post.caption}</p>}
        <Tags tags={post.tags} />
        <Ranks post={post} />
        <div className="card-foot">
          <LaughRating post={post} />
          {typeof post.viewers === 'number' && post.viewers > 0 && (
            <span className="viewers" title="People looking at this post now">
              <span className="live-dot" aria-hidden="true" /> {post.viewers} watching
            </span>
          )}
        </div>
        <Reactions post={post} />
        <PostMenu post={post} />
      </article>

      <aside className="card side">
        <h2>Ratings</h2>
        <Histogram stats={post.stats} open={post.status === 'ready'} />
        {post.duplicate_of && (
          <p className="muted">
            Looks like a repost of <Link to={`/p/${post.duplicate_of}`}>post {post.duplicate_of}</Link>.
          </p>
        )}
      </aside>

      <section className="card comments" id="comments" aria-labelledby="comments-h">
        <h2 id="comments-h">
          {post.comment_count} {post.comment_count === 1 ? 'comment' : 'comments'}
        </h2>
        <ul className="comment-list">
          {comments.map((c) => (
            <CommentItem
              key={c.id}
              c={c}
              post={post}
              onDeleted={() => {
                commentRemoved(String(c.id))
                ownChange()
              }}
            />
          ))}
        </ul>
        {commentCursor && (
          <button className="btn btn-small" onClick={() => void loadComments(commentCursor)}>
            More comments
          </button>
        )}
        <CommentForm
          post={post}
          onAdded={(c) => {
            commentAdded(c)
            ownChange()
          }}
        />
      </section>
    </div>
  )
}

// How soon the page reads the post again when live news asks for it: 0.5 s
// plus up to 2.5 s of this page's own.
const POST_REREAD = { delayMs: 500, jitterMs: 2500 }

// useLiveRanks keeps the rank chips true while the post is in a board's
// top 20 (see live/boardRanks.ts): the board's messages give its new rank,
// and when it falls out of the top the post is read again for it.
function useLiveRanks(post: Post | undefined, reread: Pick<Reread, 'request'>) {
  const follow = (key: RankKey) => ({
    ch: post ? rankChannel(post, key) : null,
    on: (ev: Parameters<typeof boardNews>[1]) => {
      if (!post || ev.type === 'error' || ev.type === 'resync') return
      const news = boardNews(post.id, ev)
      if (news.rank !== undefined) updatePost(post.id, (p) => withRank(p, key, news.rank!))
      else if (news.reread) reread.request()
    },
  })
  const hot = follow('hot')
  const top = follow('top')
  const day = follow('top_day')
  const week = follow('top_week')
  useChannel(hot.ch, hot.on)
  useChannel(top.ch, top.on)
  useChannel(day.ch, day.on)
  useChannel(week.ch, week.on)
}

function StatusBanner({ post }: { post: Post }) {
  useNow(TIME_AGO_MS) // "culled 7 minutes ago" stays true
  if (post.status === 'processing')
    return (
      <div className="banner banner-info" role="status">
        <span className="spinner-dot" aria-hidden="true" /> Processing your upload… it appears in the feeds when it is ready.
      </div>
    )
  if (post.status === 'failed')
    return (
      <div className="banner banner-error" role="alert">
        This upload could not be used{post.failure ? `: ${post.failure}` : '.'}
      </div>
    )
  if (post.status === 'culled') {
    const c = post.culled ?? {}
    return (
      <div className="banner banner-danger" role="status">
        <strong title={c.at ? fullTime(c.at) : undefined}>☠ {culledLine(c)}</strong>
        {c.run_id !== undefined && c.run_id !== '' && (
          <>
            {' '}
            (<Link to={`/danger/runs/${c.run_id}`}>cull run #{String(c.run_id)}</Link>)
          </>
        )}
        . The community has spoken; it no longer takes ratings.
      </div>
    )
  }
  if (post.status === 'removed')
    return (
      <div className="banner banner-error" role="status">
        Removed by a moderator{post.removed ? `: ${post.removed.reason}` : ''}.
      </div>
    )
  // Heard live while the page was open (the server answers 404 afterwards).
  if ((post.status as string) === 'deleted')
    return (
      <div className="banner banner-error" role="status">
        This post was deleted.
      </div>
    )
  return null
}

function CommentItem({ c, post, onDeleted }: { c: Comment; post: Post; onDeleted: () => void }) {
  const { me } = useAuth()
  const [confirming, setConfirming] = useState(false)
  const mayDelete = me && (me.id === c.author.id || me.is_admin)
  return (
    <li className="comment">
      <Avatar name={c.author.display_name || c.author.username} url={c.author.photo_url} size={28} />
      <div>
        <div className="comment-head">
          <Link to={`/u/${c.author.username}`}>{c.author.display_name}</Link> <TimeAgo className="muted" iso={c.created_at} />
          {mayDelete && (
            <button className="linklike small" onClick={() => setConfirming(true)}>
              delete
            </button>
          )}
        </div>
        <p className="comment-body">{c.body}</p>
      </div>
      {confirming && (
        <ConfirmDialog
          title="Delete this comment?"
          message={<p className="muted quote">{c.body.length > 140 ? c.body.slice(0, 140) + '…' : c.body}</p>}
          confirmLabel="Delete comment"
          danger
          onConfirm={async () => {
            await api<void>(`/posts/${post.id}/comments/${c.id}`, { method: 'DELETE' })
            onDeleted()
          }}
          onClose={() => setConfirming(false)}
        />
      )}
    </li>
  )
}

function CommentForm({ post, onAdded }: { post: Post; onAdded: (c: Comment) => void }) {
  const { me } = useAuth()
  const rules = usePostRules()
  const [body, setBody] = useState('')
  const [busy, setBusy] = useState(false)
  const sending = useRef(false)
  const [err, setErr] = useState<string | null>(null)
  if (post.status !== 'ready') return <p className="muted">Comments are closed.</p>
  if (!me)
    return (
      <p className="muted">
        <Link to={`/login?next=${encodeURIComponent('/p/' + post.id)}`}>Log in</Link> to comment.
      </p>
    )
  async function submit(e: FormEvent) {
    e.preventDefault()
    if (!body.trim() || sending.current) return // Ctrl+Enter held down, or pressed twice
    sending.current = true
    setBusy(true)
    setErr(null)
    try {
      const c = await api<Comment>(`/posts/${post.id}/comments`, { method: 'POST', body: { body } })
      onAdded(c)
      setBody('')
    } catch (e) {
      setErr(errorMessage(e))
    } finally {
      sending.current = false
      setBusy(false)
    }
  }
  const shortcut = sendShortcut(currentPlatform())
  return (
    <form className="comment-form" onSubmit={submit}>
      <label htmlFor="comment-body" className="sr-only">
        Your comment
      </label>
      <textarea
        id="comment-body"
        rows={2}
        maxLength={rules.max_comment_chars}
        placeholder="Say something funny…"
        value={body}
        aria-describedby="comment-hint"
        onChange={(e) => setBody(e.target.value)}
        onKeyDown={(e) => {
          if (isSend(e)) void submit(e as unknown as FormEvent)
        }}
      />
      {err && <p className="field-error" role="alert">{err}</p>}
      <div className="comment-actions">
        <span id="comment-hint" className="muted small">
          <kbd>{shortcut}</kbd> to send · Enter for a new line
        </span>
        <button className="btn btn-primary" disabled={busy || !body.trim()}>
          Comment
        </button>
      </div>
    </form>
  )
}

type MenuDialog = 'report' | 'edit' | 'delete' | 'remove' | null

function PostMenu({ post }: { post: Post }) {
  const { me } = useAuth()
  const toast = useToast()
  const navigate = useNavigate()
  const [open, setOpen] = useState<MenuDialog>(null)
  const [reported, setReported] = useState(() => isReported(post.id))
  useEffect(() => setReported(isReported(post.id)), [post.id])
  const own = me?.id === post.author.id
  const close = () => setOpen(null)
  return (
    <div className="post-menu">
      {me && !own && post.status === 'ready' &&
        (reported ? (
          <button className="btn btn-small btn-ghost" disabled title="You reported this post; a moderator will look at it">
            ⚑ Reported
          </button>
        ) : (
          <button className="btn btn-small btn-ghost" onClick={() => setOpen('report')}>
            ⚑ Report
          </button>
        ))}
      {own && (post.status === 'ready' || post.status === 'processing') && (
        <button className="btn btn-small btn-ghost" onClick={() => setOpen('edit')}>
          Edit
        </button>
      )}
      {(own || me?.is_admin) && (
        <button className="btn btn-small btn-ghost danger" onClick={() => setOpen('delete')}>
          Delete
        </button>
      )}
      {me?.is_admin && post.status !== 'removed' && (
        <button className="btn btn-small btn-ghost danger" onClick={() => setOpen('remove')}>
          Remove (admin)
        </button>
      )}
      {open === 'report' && (
        <ReportDialog
          post={post}
          onDone={() => {
            markReported(post.id)
            setReported(true)
          }}
          onClose={close}
        />
      )}
      {open === 'edit' && <EditDialog post={post} onClose={close} />}
      {open === 'delete' && (
        <ConfirmDialog
          title="Delete this post?"
          message={<p>It is deleted for good, with its ratings, reactions and comments.</p>}
          confirmLabel="Delete for good"
          danger
          onConfirm={async () => {
            await api<void>(`/posts/${post.id}`, { method: 'DELETE' })
            toast('Post deleted', 'success')
            navigate('/')
          }}
          onClose={close}
        />
      )}
      {open === 'remove' && (
        <RemovePostDialog postId={post.id} title="Remove this post" onRemoved={putPost} onClose={close} />
      )}
    </div>
  )
}

const REPORT_REASONS: [string, string][] = [
  ['spam', 'Spam'],
  ['offensive', 'Offensive'],
  ['illegal', 'Illegal'],
  ['copyright', 'Copyright'],
  ['other', 'Other'],
]

function ReportDialog({ post, onDone, onClose }: { post: Post; onDone: () => void; onClose: () => void }) {
  const toast = useToast()
  // No reason is picked for the reporter: they choose one.
  const [reason, setReason] = useState('')
  const [note, setNote] = useState('')
  const [err, setErr] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  async function submit(e: FormEvent) {
    e.preventDefault()
    if (!reason) return
    setBusy(true)
    try {
      const r = await api<{ message: string } | undefined>(`/posts/${post.id}/report`, { method: 'POST', body: { reason, note } })
      toast(r?.message || 'Thanks: a moderator will look at it', 'success')
      onDone()
      onClose()
    } catch (e) {
      setErr(e instanceof ApiError && Object.keys(e.fields).length ? Object.values(e.fields).map(sentence).join(' ') : errorMessage(e))
      setBusy(false)
    }
  }
  return (
    <Dialog title="Report this post" onClose={onClose}>
      <form onSubmit={submit} className="form">
        <fieldset className="choices">
          <legend>Why? (pick one)</legend>
          {REPORT_REASONS.map(([v, label]) => (
            <label key={v} className="check">
              <input type="radio" name="reason" value={v} checked={reason === v} onChange={() => setReason(v)} required />
              {label}
            </label>
          ))}
        </fieldset>
        <label>
          Note for the moderators (optional)
          <textarea maxLength={1000} rows={3} value={note} onChange={(e) => setNote(e.target.value)} />
        </label>
        {err && <p className="field-error" role="alert">{err}</p>}
        <div className="row dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" disabled={!reason || busy}>
            Send report
          </button>
        </div>
      </form>
    </Dialog>
  )
}

function EditDialog({ post, onClose }: { post: Post; onClose: () => void }) {
  const rules = usePostRules()
  const [caption, setCaption] = useState(post.caption)
  const [tags, setTags] = useState(post.tags.join(', '))
  const [err, setErr] = useState<string | null>(null)
  const [fields, setFields] = useState<Record<string, string>>({})
  const first = useRef<HTMLTextAreaElement>(null)
  useEffect(() => first.current?.focus(), [])
  async function submit(e: FormEvent) {
    e.preventDefault()
    setErr(null)
    setFields({})
    const t = parseTags(tags)
    const tagError = tagsProblem(t, rules)
    if (tagError) {
      setFields({ tags: tagError })
      return
    }
    try {
      putPost(await api<Post>(`/posts/${post.id}`, { method: 'PATCH', body: { caption, tags: t } }))
      onClose()
    } catch (e) {
      if (e instanceof ApiError && Object.keys(e.fields).length) {
        setFields(e.fields)
        const other = Object.entries(e.fields).filter(([k]) => k !== 'caption' && k !== 'tags')
        if (other.length) setErr(other.map(([, v]) => sentence(v)).join(' '))
      } else setErr(errorMessage(e))
    }
  }
  return (
    <Dialog title="Edit post" onClose={onClose}>
      <form onSubmit={submit} className="form">
        <div className="field">
          <label htmlFor="edit-caption">Caption</label>
          <textarea id="edit-caption" ref={first} maxLength={rules.max_caption_chars} rows={3} value={caption} onChange={(e) => setCaption(e.target.value)} aria-invalid={!!fields.caption} aria-describedby={fields.caption ? 'edit-caption-error' : undefined} />
          {fields.caption && (
            <span className="field-error" id="edit-caption-error">
              {sentence(fields.caption)}
            </span>
          )}
        </div>
        <div className="field">
          <label htmlFor="edit-tags">Tags</label>
          <input id="edit-tags" value={tags} onChange={(e) => setTags(e.target.value)} aria-invalid={!!fields.tags} aria-describedby={fields.tags ? 'edit-tags-hint edit-tags-error' : 'edit-tags-hint'} />
          <span className="muted small" id="edit-tags-hint">
            Comma separated, up to {rules.max_tags}
          </span>
          {fields.tags && (
            <span className="field-error" id="edit-tags-error">
              {sentence(fields.tags)}
            </span>
          )}
        </div>
        {err && <p className="field-error" role="alert">{err}</p>}
        <div className="row dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary">Save</button>
        </div>
      </form>
    </Dialog>
  )
}
