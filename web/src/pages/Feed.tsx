// The feed: Hot / New / Top (today, week, all) / Following, a tag filter,
// infinite scroll, and new posts waiting behind an "N new posts" bar.

import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react'
import { Link, useSearchParams } from 'react-router'
import { api, errorMessage, qs } from '../api/client'
import type { Page, Post } from '../api/types'
import { liveMark, putPosts, putSharedPosts } from '../lib/postStore'
import { PostCard } from '../components/PostCard'
import { refreshPosts } from '../lib/postFetch'
import { useChannel, usePollWhenNotLive, useRetryOnReconnect } from '../live/live'
import { FeedLive, idNum, type FeedChange } from '../live/feed'
import { useAuth } from '../auth/auth'
import { useDocumentTitle } from '../lib/hooks'
import { visibleIds } from '../lib/visible'
import { isFollowed, loadFollowing } from '../lib/following'
import { normalizeTag } from '../lib/tags'

type Tab = 'hot' | 'new' | 'top' | 'following'
type Window = 'day' | 'week' | 'all'

const TABS: [Tab, string][] = [
  ['hot', 'Hot'],
  ['new', 'New'],
  ['top', 'Top'],
  ['following', 'Following'],
]
const WINDOWS: [Window, string][] = [
  ['day', 'Today'],
  ['week', 'This week'],
  ['all', 'All time'],
]

function pagePath(tab: Tab, win: Window, tag: string, cursor: string | null, limit = 10): string {
  if (tab === 'following') return '/feed' + qs({ cursor, limit })
  return '/posts' + qs({ sort: tab, window: tab === 'top' ? win : undefined, tag, cursor, limit })
}

export default function Feed() {
  const [params, setParams] = useSearchParams()
  const { me, ready } = useAuth()
  const tab = (['hot', 'new', 'top', 'following'].includes(params.get('tab') ?? '') ? params.get('tab') : 'hot') as Tab
  const win = (['day', 'week', 'all'].includes(params.get('window') ?? '') ? params.get('window') : 'day') as Window
  const tag = normalizeTag(params.get('tag') ?? '')
  useDocumentTitle(tag ? `#${tag}` : tab === 'hot' ? '' : TABS.find((t) => t[0] === tab)![1])

  const [ids, setIds] = useState<string[]>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const [loading, setLoading] = useState(false)
  const [done, setDone] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [pending, setPending] = useState<Post[]>([])
  const [gone, setGone] = useState<Set<string>>(new Set())
  const gen = useRef(0)
  const listGen = useRef(0)
  const loaded = useRef(false) // the first page is in: later pages may follow
  // What is new, and what left, for this list (see live/feed.ts).
  const live = useRef<FeedLive | null>(null)
  live.current ??= new FeedLive()
  const idsRef = useRef<string[]>([])
  idsRef.current = ids

  const applyLive = useCallback((c: FeedChange) => {
    if (c.gone.length || c.back.length) {
      setGone((g) => {
        const n = new Set(g)
        for (const id of c.gone) n.add(id)
        for (const id of c.back) n.delete(id)
        return n
      })
    }
    if (c.gone.length) setPending((p) => p.filter((x) => !c.gone.includes(x.id)))
    if (c.fresh.length) {
      putSharedPosts(c.fresh)
      setPending((old) => {
        const known = new Set(old.map((x) => x.id))
        return [...c.fresh.filter((p) => !known.has(p.id)), ...old]
      })
    }
  }, [])

  const needLogin = tab === 'following' && ready && !me

  const loadMore = useCallback(
    async (reset = false) => {
      // Nothing is read before the session is restored: the list would be
      // read again with the user's own ratings a moment later.
      if (needLogin || !ready) return
      if (!reset && !loaded.current) return
      const g = reset ? ++gen.current : gen.current
      setLoading(true)
      setError(null)
      try {
        const since = liveMark()
        // The Following feed hears every new post live and keeps those of
        // the people followed: know whom before its first page is in (the
        // messages heard meanwhile wait for it, see FeedLive).
        const [page] = await Promise.all([
          api<Page<Post>>(pagePath(tab, win, tag, reset ? null : cursor)),
          reset && tab === 'following' && me ? loadFollowing(me.username) : null,
        ])
        if (g !== gen.current) return
        putPosts(page.items, since)
        if (reset) applyLive(live.current!.pageIn(page.items))
        else live.current!.saw(page.items)
        loaded.current = true
        setIds((old) => {
          const base = reset ? [] : old
          const seen = new Set(base)
          return [...base, ...page.items.map((p) => p.id).filter((id) => !seen.has(id) && (seen.add(id), true))]
        })
        setCursor(page.next_cursor)
        setDone(page.next_cursor === null)
      } catch (e) {
        if (g === gen.current) setError(errorMessage(e))
      } finally {
        if (g === gen.current) setLoading(false)
      }
    },
    [tab, win, tag, cursor, needLogin, ready, applyLive, me],
  )

  // A new tab, window or tag (or another user): start over. Wait for the
  // session to be restored first, so the list is read once, with the
  // user's own ratings.
  useEffect(() => {
    if (!ready) return
    setIds([])
    setCursor(null)
    setDone(false)
    setPending([])
    setGone(new Set())
    loaded.current = false
    const baseline = tab === 'hot' || tab === 'top'
    if (tab === 'following') live.current!.reset('', false, (p) => isFollowed(p.author.id))
    else live.current!.reset(tag, baseline)
    const lg = ++listGen.current
    void loadMore(true)
    if (baseline) {
      // The baseline for "new posts" is the newest post overall.
      api<Page<Post>>('/posts' + qs({ sort: 'new', tag, limit: 1 }))
        .then((p) => p.items)
        .catch(() => [])
        .then((items) => {
          if (lg === listGen.current) applyLive(live.current!.baselineIn(items))
        })
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [tab, win, tag, ready, me?.id])

  // Live: new posts wait behind the bar (on Following, those of the people
  // followed); culled and removed ones leave.
  useChannel(needLogin ? null : 'posts:new', (ev) => applyLive(live.current!.event(ev)))

  // A list that failed to load (the network or the server was away) loads
  // again once the connection is back, without a click.
  const errorRef = useRef(error)
  errorRef.current = error
  const retry = useCallback(() => {
    if (errorRef.current) void loadMore(idsRef.current.length === 0)
  }, [loadMore])
  useRetryOnReconnect(retry, !!error)

  // Without live updates: look for new posts and refresh the visible ones
  // (or try the failed load again).
  const poll = useCallback(async () => {
    if (errorRef.current) {
      retry()
      return
    }
    try {
      const path = tab === 'following' ? '/feed' + qs({ limit: 20 }) : '/posts' + qs({ sort: 'new', tag, limit: 20 })
      const page = await api<Page<Post>>(path)
      const fresh = live.current!.freshOf(page.items)
      if (fresh.length) {
        putPosts(fresh)
        setPending((old) => {
          const known = new Set(old.map((x) => x.id))
          return [...fresh.filter((p) => !known.has(p.id)), ...old]
        })
      }
    } catch {
      /* try again next time */
    }
    await refreshPosts(visibleIds().filter((id) => idsRef.current.includes(id)))
  }, [tab, tag, retry])
  usePollWhenNotLive(() => void poll(), !needLogin)

  function showPending() {
    live.current!.saw(pending)
    if (tab === 'new' || tab === 'following') {
      const add = [...pending].sort((a, b) => idNum(b.id) - idNum(a.id))
      setIds((old) => [...add.map((p) => p.id).filter((id) => !old.includes(id)), ...old])
    } else {
      void loadMore(true)
    }
    setPending([])
    window.scrollTo({ top: 0, behavior: 'smooth' })
  }

  // Infinite scroll.
  const sentinel = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const el = sentinel.current
    if (!el || done || loading || error) return
    const io = new IntersectionObserver((e) => {
      if (e.some((x) => x.isIntersecting)) void loadMore()
    }, { rootMargin: '800px' })
    io.observe(el)
    return () => io.disconnect()
  }, [done, loading, error, loadMore])

  const setTab = (t: Tab) => {
    const p = new URLSearchParams(params)
    p.set('tab', t)
    if (t !== 'top') p.delete('window')
    setParams(p)
  }
  const setWin = (w: Window) => {
    const p = new URLSearchParams(params)
    p.set('tab', 'top')
    p.set('window', w)
    setParams(p)
  }
  const [tagInput, setTagInput] = useState(tag)
  useEffect(() => setTagInput(tag), [tag])
  const applyTag = (e: FormEvent) => {
    e.preventDefault()
    const p = new URLSearchParams(params)
    const t = normalizeTag(tagInput)
    if (t) p.set('tag', t)
    else p.delete('tag')
    setParams(p)
  }
  const clearTag = () => {
    const p = new URLSearchParams(params)
    p.delete('tag')
    setParams(p)
  }

  const shown = ids.filter((id) => !gone.has(id))

  return (
    <div className="feed">
      <div className="feed-controls">
        <nav className="tabs" aria-label="Feed">
          {TABS.map(([t, label]) => (
            <button key={t} type="button" className={`tab${t === tab ? ' active' : ''}`} aria-current={t === tab ? 'page' : undefined} onClick={() => setTab(t)}>
              {label}
            </button>
          ))}
        </nav>
        {tab === 'top' && (
          <div className="subtabs" role="group" aria-label="Time window">
            {WINDOWS.map(([w, label]) => (
              <button key={w} type="button" className={`chip${w === win ? ' active' : ''}`} aria-pressed={w === win} onClick={() => setWin(w)}>
                {label}
              </button>
            ))}
          </div>
        )}
        {tab !== 'following' && (
          <form className="tag-filter" onSubmit={applyTag} role="search">
            <label htmlFor="tag-filter" className="sr-only">
              Filter by tag
            </label>
            <input id="tag-filter" type="search" placeholder="#tag" value={tagInput} onChange={(e) => setTagInput(e.target.value)} />
            <button type="submit" className="btn btn-small">
              Filter
            </button>
            {tag && (
              <button type="button" className="chip active" onClick={clearTag} aria-label={`Remove the tag filter #${tag}`}>
                #{tag} ×
              </button>
            )}
          </form>
        )}
      </div>

      {pending.length > 0 && (
        <button type="button" className="new-posts-bar" onClick={showPending} data-testid="new-posts-bar">
          ↑ {pending.length} new {pending.length === 1 ? 'post' : 'posts'}
        </button>
      )}

      {needLogin ? (
        <div className="empty card">
          <p>
            <Link to="/login?next=%2F%3Ftab%3Dfollowing">Log in</Link> to see posts from the people you follow.
          </p>
        </div>
      ) : (
        <>
          <div className="post-list" aria-busy={loading}>
            {shown.map((id) => (
              <PostCard key={id} id={id} />
            ))}
          </div>
          {!loading && !error && shown.length === 0 && (
            <div className="empty card">
              {tab === 'following' ? (
                <p>Nothing here yet. Follow some funny people — find them on the <Link to="/leaderboards?board=creators">creators board</Link>.</p>
              ) : tag ? (
                <p>{noTagText(tag, tab === 'top' && win !== 'all')}</p>
              ) : tab === 'top' && win !== 'all' ? (
                <p>Nothing rated in this window yet. <button className="linklike" onClick={() => setWin('all')}>See all time</button></p>
              ) : (
                <p>No posts yet. <Link to="/upload">Be the first to post something funny.</Link></p>
              )}
            </div>
          )}
          {error && (
            <div className="error-box" role="alert">
              {error}{' '}
              <button className="btn btn-small" onClick={() => void loadMore(ids.length === 0)}>
                Try again
              </button>
            </div>
          )}
          <div ref={sentinel} className="sentinel" />
          {loading && <Spinner />}
          {!loading && !done && !error && shown.length > 0 && (
            <button className="btn load-more" onClick={() => void loadMore()}>
              Load more
            </button>
          )}
          {done && shown.length > 0 && <p className="muted end">That's all. Go make something funnier.</p>}
        </>
      )}
    </div>
  )
}

// noTagText: a tag's posts may all have been culled or removed, so not
// "yet" but "right now".
export function noTagText(tag: string, inWindow: boolean): string {
  return `No posts tagged #${tag}${inWindow ? ' in this window' : ''} right now.`
}

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="spinner" role="status">
      <span className="spinner-dot" aria-hidden="true" />
      <span className="sr-only">{label}</span>
    </div>
  )
}
