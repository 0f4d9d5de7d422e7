// The notifications bell (live count) and list.

import { useCallback, useEffect, useRef, useState } from 'react'
import { Link } from 'react-router'
import { api, errorMessage, qs } from '../api/client'
import type { Notification, Page } from '../api/types'
import { useAuth } from '../auth/auth'
import { useChannel, usePollWhenNotLive } from '../live/live'
import { TimeAgo } from './TimeAgo'
import { useDocumentTitle } from '../lib/hooks'
import { REACTIONS } from '../api/types'

// The caption a post notification carries (its first 80 characters when
// the notification was made), quoted: “Knock knock…”; empty for a post
// without one.
const CAPTION_CHARS = 80

function quoted(caption: unknown): string {
  if (typeof caption !== 'string') return ''
  const c = caption.replace(/\s+/g, ' ').trim()
  if (!c) return ''
  // A caption cut at 80 characters may go on: say so.
  return `“${c}${Array.from(caption).length >= CAPTION_CHARS ? '…' : ''}”`
}

interface Described {
  text: string
  // Where the notification leads (the post's page for one about a post).
  to: string | null
  // A second link beside it (the danger zone for a post in danger).
  extra?: { text: string; to: string }
}

export function describe(n: Notification): Described {
  const who = n.actor ? `@${n.actor}` : 'Someone'
  const id = typeof n.data.post_id === 'string' || typeof n.data.post_id === 'number' ? String(n.data.post_id) : null
  const post = id ? `/p/${id}` : null
  const q = quoted(n.data.caption)
  // "your post" or "your post “Knock knock…”".
  const yourPost = q ? `your post ${q}` : 'your post'
  const YourPost = q ? `Your post ${q}` : 'Your post'
  switch (n.kind) {
    case 'followed':
      return { text: `${who} followed you`, to: n.actor ? `/u/${n.actor}` : null }
    case 'commented':
      return { text: `${who} commented on ${yourPost}`, to: post ? post + '#comments' : null }
    case 'reacted': {
      const e = REACTIONS.find(([k]) => k === n.data.reaction)?.[1] ?? ''
      return { text: `${who} reacted ${e} to ${yourPost}`, to: post }
    }
    case 'rated': {
      const k = Number(n.data.new_ratings ?? 1)
      return { text: `${k} ${k === 1 ? 'person' : 'people'} rated ${yourPost}`, to: post }
    }
    case 'duplicate':
      return { text: `${YourPost} looks like a repost of an earlier one`, to: post }
    case 'removed':
      return { text: `A moderator removed ${yourPost}${n.data.reason ? `: ${String(n.data.reason)}` : ''}`, to: post }
    case 'processing_failed':
      return { text: `Your upload could not be processed${n.data.reason ? `: ${String(n.data.reason)}` : ''}`, to: post }
    case 'culled':
      return { text: `${YourPost} was culled. The community has spoken.`, to: post }
    case 'danger':
    case 'danger_entered':
    case 'danger_left':
    case 'safe': {
      // "danger" says which way in data.state: "entered" or "left".
      const left = n.kind === 'danger_left' || n.kind === 'safe' || n.data.state === 'left'
      if (left) return { text: `${YourPost} is safe again`, to: post ?? '/danger' }
      const zone = { text: 'Danger zone', to: '/danger' }
      return { text: `${YourPost} entered the danger zone!`, to: post ?? zone.to, extra: post ? zone : undefined }
    }
    default:
      return { text: `${n.kind.replace(/_/g, ' ')}${n.actor ? ' · @' + n.actor : ''}`, to: post }
  }
}

export function NotificationItem({ n, onOpen }: { n: Notification; onOpen?: () => void }) {
  const d = describe(n)
  const body = (
    <>
      <span className="notif-text">{d.text}</span>
      <TimeAgo className="muted small" iso={n.created_at} />
    </>
  )
  return (
    <li className={`notif${n.read ? '' : ' unread'}${d.extra ? ' has-extra' : ''}`}>
      {d.to ? (
        <Link to={d.to} onClick={onOpen}>
          {body}
        </Link>
      ) : (
        <span>{body}</span>
      )}
      {d.extra && (
        <Link className="notif-extra small" to={d.extra.to} onClick={onOpen}>
          {d.extra.text}
        </Link>
      )}
    </li>
  )
}

export function NotificationBell() {
  const { me } = useAuth()
  const [count, setCount] = useState(0)
  const [open, setOpen] = useState(false)
  const [items, setItems] = useState<Notification[] | null>(null)
  const wrap = useRef<HTMLDivElement>(null)

  const loadCount = useCallback(async () => {
    try {
      setCount((await api<{ count: number }>('/notifications/unread-count')).count)
    } catch {
      /* keep the old count */
    }
  }, [])
  const loadList = useCallback(async () => {
    try {
      setItems((await api<Page<Notification>>('/notifications' + qs({ limit: 15 }))).items)
    } catch {
      setItems([])
    }
  }, [])

  useEffect(() => {
    if (me) void loadCount()
  }, [me, loadCount])
  useChannel(me ? 'me' : null, (ev) => {
    if (ev.type === 'resync' || ev.type === 'error') return
    // snapshot: {unread_count, latest}; then one "notification" per new one.
    const d = ev.data as Record<string, unknown> | undefined
    if (d && typeof d.unread_count === 'number') setCount(d.unread_count)
    else if (ev.type === 'notification' && d && typeof d.id === 'string') {
      const n = d as unknown as Notification
      if (!n.read) setCount((c) => c + 1)
      setItems((old) => (old && !old.some((x) => x.id === n.id) ? [n, ...old] : old))
    } else void loadCount()
  })
  usePollWhenNotLive(() => void loadCount(), !!me, 30_000)

  // Close on outside click and Escape.
  useEffect(() => {
    if (!open) return
    const click = (e: MouseEvent) => {
      if (wrap.current && !wrap.current.contains(e.target as Node)) setOpen(false)
    }
    const key = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setOpen(false)
    }
    document.addEventListener('mousedown', click)
    document.addEventListener('keydown', key)
    return () => {
      document.removeEventListener('mousedown', click)
      document.removeEventListener('keydown', key)
    }
  }, [open])

  if (!me) return null

  async function markAll() {
    try {
      const r = await api<{ unread_count: number }>('/notifications/read', { method: 'POST', body: { all: true } })
      setCount(r.unread_count)
      setItems((old) => old?.map((n) => ({ ...n, read: true })) ?? null)
    } catch {
      /* ignore */
    }
  }

  return (
    <div className="bell-wrap" ref={wrap}>
      <button
        className="icon-btn bell"
        aria-label={count ? `Notifications, ${count} unread` : 'Notifications'}
        aria-expanded={open}
        aria-haspopup="true"
        onClick={() => {
          setOpen(!open)
          if (!open) void loadList()
        }}
      >
        <span aria-hidden="true">🔔</span>
        {count > 0 && (
          <span className="badge" data-testid="unread-count">
            {count > 99 ? '99+' : count}
          </span>
        )}
      </button>
      {open && (
        <div className="popover" role="region" aria-label="Notifications">
          <div className="popover-head">
            <strong>Notifications</strong>
            {count > 0 && (
              <button className="linklike small" onClick={() => void markAll()}>
                Mark all read
              </button>
            )}
          </div>
          {items === null ? (
            <p className="muted">Loading…</p>
          ) : items.length === 0 ? (
            <p className="muted">Nothing yet. Post something and the laughs will come.</p>
          ) : (
            <ul className="notif-list">
              {items.map((n) => (
                <NotificationItem key={n.id} n={n} onOpen={() => setOpen(false)} />
              ))}
            </ul>
          )}
          <Link to="/notifications" className="popover-foot" onClick={() => setOpen(false)}>
            See all
          </Link>
        </div>
      )}
    </div>
  )
}

export function NotificationsPage() {
  useDocumentTitle('Notifications')
  const { me } = useAuth()
  const [items, setItems] = useState<Notification[] | null>(null)
  const [cursor, setCursor] = useState<string | null>(null)
  const [unreadOnly, setUnreadOnly] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const load = useCallback(
    async (c: string | null) => {
      try {
        const page = await api<Page<Notification>>('/notifications' + qs({ limit: 30, cursor: c, unread: unreadOnly ? 'true' : undefined }))
        setItems((old) => [...(c ? (old ?? []) : []), ...page.items])
        setCursor(page.next_cursor)
      } catch (e) {
        setError(errorMessage(e))
      }
    },
    [unreadOnly],
  )
  useEffect(() => {
    if (me) void load(null)
  }, [me, load])
  if (!me)
    return (
      <div className="card empty">
        <Link to="/login?next=%2Fnotifications">Log in</Link> to see your notifications.
      </div>
    )
  return (
    <div className="notifications-page">
      <h1>Notifications</h1>
      <div className="row">
        <label className="check">
          <input type="checkbox" checked={unreadOnly} onChange={(e) => setUnreadOnly(e.target.checked)} /> Unread only
        </label>
        <button
          className="btn btn-small"
          onClick={async () => {
            await api('/notifications/read', { method: 'POST', body: { all: true } })
            void load(null)
          }}
        >
          Mark all read
        </button>
      </div>
      {error && <div className="error-box">{error}</div>}
      {items && items.length === 0 && <div className="card empty">Nothing here.</div>}
      <ul className="notif-list card">
        {items?.map((n) => (
          <NotificationItem key={n.id} n={n} />
        ))}
      </ul>
      {cursor && (
        <button className="btn load-more" onClick={() => void load(cursor)}>
          Older
        </button>
      )}
    </div>
  )
}
