// A profile: who they are, their numbers, their posts, follow, and who
// follows whom.

import { useCallback, useEffect, useState } from 'react'
import { Link, useNavigate, useParams, useSearchParams } from 'react-router'
import { api, ApiError, errorMessage, qs } from '../api/client'
import type { Page, Post, Profile, ProfileWithStats } from '../api/types'
import { liveMark, putPosts } from '../lib/postStore'
import { useAuth } from '../auth/auth'
import { useToast } from '../components/Toasts'
import { Avatar } from '../components/Avatar'
import { PostCard } from '../components/PostCard'
import { compact, fullTime } from '../lib/format'
import { culledPostsLabel, survivedLabel } from '../lib/cull'
import { useDocumentTitle } from '../lib/hooks'
import { profileTitle } from '../lib/titles'
import { noteFollow } from '../lib/following'
import { useRetryOnReconnect } from '../live/live'
import { Spinner } from './Feed'

type Tab = 'posts' | 'followers' | 'following'

export default function ProfilePage() {
  const { username = '' } = useParams()
  const [params, setParams] = useSearchParams()
  const tab = (['posts', 'followers', 'following'].includes(params.get('tab') ?? '') ? params.get('tab') : 'posts') as Tab
  const { me } = useAuth()
  const [profile, setProfile] = useState<ProfileWithStats | null>(null)
  const [error, setError] = useState<ApiError | null>(null)
  useDocumentTitle(profileTitle(username, profile, error))

  const load = useCallback(async () => {
    try {
      setProfile(await api<ProfileWithStats>(`/profiles/${encodeURIComponent(username)}`))
      setError(null)
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'network', errorMessage(e)))
    }
  }, [username])
  useEffect(() => {
    void load()
  }, [load, me?.id])
  useRetryOnReconnect(() => void load(), !!error && error.status !== 404)

  if (error)
    return (
      <div className="card empty" role="alert">
        {error.status === 404 ? <h1>No such user</h1> : <p>{error.message}</p>}
        <Link to="/">Back to the feed</Link>
      </div>
    )
  if (!profile || profile.username.toLowerCase() !== username.toLowerCase()) return <Spinner />

  const own = me?.username.toLowerCase() === profile.username.toLowerCase()
  const s = profile.stats
  const setTab = (t: Tab) => {
    const p = new URLSearchParams(params)
    p.set('tab', t)
    setParams(p)
  }
  return (
    <div className="profile-page">
      <section className="card profile-head">
        <Avatar name={profile.display_name || profile.username} url={profile.photo_url} size={96} />
        <div className="profile-info">
          <h1>{profile.display_name}</h1>
          <p className="muted">@{profile.username}</p>
          {profile.about && <p className="about">{profile.about}</p>}
          <p className="muted small">
            {[profile.city, profile.country].filter(Boolean).join(', ')}
            {(profile.city || profile.country) && ' · '}
            joined <time dateTime={profile.created_at}>{fullTime(profile.created_at).split(',')[0]}</time>
          </p>
          <div className="row">
            {own ? (
              <Link to="/settings" className="btn">
                Edit profile
              </Link>
            ) : (
              <FollowButton profile={profile} onChange={(p) => setProfile({ ...profile, ...p })} />
            )}
          </div>
        </div>
        <dl className="profile-stats">
          <div>
            <dt>posts</dt>
            <dd>{compact(s.posts)}</dd>
          </div>
          <div>
            <dt>laughs received</dt>
            <dd>{compact(s.laughs_received)}</dd>
          </div>
          <div>
            <dt>best rank</dt>
            <dd>{s.best_rank ? `#${s.best_rank}` : '–'}</dd>
          </div>
          {typeof s.posts_survived === 'number' && (
            <div title="Posts that faced a cull and are still up">
              <dt>{survivedLabel(s.posts_survived)}</dt>
              <dd>{compact(s.posts_survived)}</dd>
            </div>
          )}
          {typeof s.posts_culled === 'number' && (
            <div title="Posts the cull took">
              <dt>{culledPostsLabel(s.posts_culled)}</dt>
              <dd>{compact(s.posts_culled)}</dd>
            </div>
          )}
          <div>
            <dt>followers</dt>
            <dd>
              <button className="linklike" onClick={() => setTab('followers')}>
                {compact(profile.followers_count)}
              </button>
            </dd>
          </div>
          <div>
            <dt>following</dt>
            <dd>
              <button className="linklike" onClick={() => setTab('following')}>
                {compact(profile.following_count)}
              </button>
            </dd>
          </div>
        </dl>
      </section>
      <nav className="tabs" aria-label="Profile">
        {(
          [
            ['posts', 'Posts'],
            ['followers', 'Followers'],
            ['following', 'Following'],
          ] as const
        ).map(([t, label]) => (
          <button key={t} className={`tab${t === tab ? ' active' : ''}`} aria-current={t === tab ? 'page' : undefined} onClick={() => setTab(t)}>
            {label}
          </button>
        ))}
      </nav>
      {tab === 'posts' ? <UserPosts username={profile.username} /> : <People username={profile.username} which={tab} />}
    </div>
  )
}

export function FollowButton({ profile, onChange }: { profile: Profile; onChange?: (p: Profile) => void }) {
  const { me } = useAuth()
  const toast = useToast()
  const navigate = useNavigate()
  const [busy, setBusy] = useState(false)
  if (me && me.username.toLowerCase() === profile.username.toLowerCase()) return null
  const following = !!profile.followed_by_me
  return (
    <button
      className={`btn ${following ? '' : 'btn-primary'}`}
      aria-pressed={following}
      disabled={busy}
      onClick={async () => {
        if (!me) {
          navigate('/login?next=' + encodeURIComponent(location.pathname))
          return
        }
        setBusy(true)
        try {
          const p = await api<Profile>(`/profiles/${encodeURIComponent(profile.username)}/follow`, { method: following ? 'DELETE' : 'POST' })
          noteFollow(p.id, p.followed_by_me ?? !following)
          onChange?.(p)
        } catch (e) {
          toast(errorMessage(e), 'error')
        } finally {
          setBusy(false)
        }
      }}
    >
      {following ? 'Following ✓' : 'Follow'}
    </button>
  )
}

function UserPosts({ username }: { username: string }) {
  const { me, ready } = useAuth()
  const [ids, setIds] = useState<string[] | null>(null)
  const [cursor, setCursor] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const load = useCallback(
    async (c: string | null) => {
      try {
        const since = liveMark()
        const page = await api<Page<Post>>('/posts' + qs({ author: username, sort: 'new', cursor: c, limit: 10 }))
        putPosts(page.items, since)
        setIds((old) => [...(c ? (old ?? []) : []), ...page.items.map((p) => p.id)])
        setCursor(page.next_cursor)
      } catch (e) {
        setError(errorMessage(e))
      }
    },
    [username],
  )
  useEffect(() => {
    if (!ready) return
    void load(null)
  }, [load, ready, me?.id])
  if (error) return <div className="error-box">{error}</div>
  if (!ids) return <Spinner />
  if (!ids.length) return <div className="card empty">No posts yet.</div>
  return (
    <div className="post-list">
      {ids.map((id) => (
        <PostCard key={id} id={id} />
      ))}
      {cursor && (
        <button className="btn load-more" onClick={() => void load(cursor)}>
          Load more
        </button>
      )}
    </div>
  )
}

function People({ username, which }: { username: string; which: 'followers' | 'following' }) {
  const [items, setItems] = useState<Profile[] | null>(null)
  const [cursor, setCursor] = useState<string | null>(null)
  const load = useCallback(
    async (c: string | null) => {
      const page = await api<Page<Profile>>(`/profiles/${encodeURIComponent(username)}/${which}` + qs({ cursor: c, limit: 30 }))
      setItems((old) => [...(c ? (old ?? []) : []), ...page.items])
      setCursor(page.next_cursor)
    },
    [username, which],
  )
  useEffect(() => {
    setItems(null)
    void load(null).catch(() => setItems([]))
  }, [load])
  if (!items) return <Spinner />
  if (!items.length) return <div className="card empty">{which === 'followers' ? 'No followers yet.' : 'Not following anyone yet.'}</div>
  return (
    <ul className="people card">
      {items.map((p) => (
        <li key={p.id}>
          <Link to={`/u/${p.username}`} className="author">
            <Avatar name={p.display_name || p.username} url={p.photo_url} size={40} />
            <span>
              <span className="display-name">{p.display_name}</span> <span className="muted">@{p.username}</span>
            </span>
          </Link>
          <FollowButton profile={p} onChange={(np) => setItems((old) => old!.map((x) => (x.id === np.id ? np : x)))} />
        </li>
      ))}
      {cursor && (
        <li>
          <button className="btn" onClick={() => void load(cursor)}>
            More
          </button>
        </li>
      )}
    </ul>
  )
}
