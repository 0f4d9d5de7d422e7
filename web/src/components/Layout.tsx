import { useEffect, useRef, useState, type ReactNode } from 'react'
import { Link, NavLink, useLocation, useNavigate, useSearchParams } from 'react-router'
import { useAuth } from '../auth/auth'
import { useLiveState } from '../live/live'
import { Avatar } from './Avatar'
import { NotificationBell } from './Notifications'
import { useToast } from './Toasts'
import { monitorURL } from '../lib/links'

type Theme = 'system' | 'light' | 'dark'
const THEME_KEY = 'jokster.theme'

function readTheme(): Theme {
  try {
    const t = localStorage.getItem(THEME_KEY)
    return t === 'light' || t === 'dark' ? t : 'system'
  } catch {
    return 'system'
  }
}

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(readTheme)
  useEffect(() => {
    const root = document.documentElement
    if (theme === 'system') root.removeAttribute('data-theme')
    else root.dataset.theme = theme
    try {
      if (theme === 'system') localStorage.removeItem(THEME_KEY)
      else localStorage.setItem(THEME_KEY, theme)
    } catch {
      /* no storage */
    }
  }, [theme])
  const next: Theme = theme === 'system' ? 'light' : theme === 'light' ? 'dark' : 'system'
  const icon = theme === 'light' ? '☀️' : theme === 'dark' ? '🌙' : '🌓'
  return (
    <button className="icon-btn" onClick={() => setTheme(next)} aria-label={`Theme: ${theme}. Switch to ${next}`} title={`Theme: ${theme} (switch to ${next})`}>
      <span aria-hidden="true">{icon}</span>
    </button>
  )
}

function LiveIndicator() {
  const state = useLiveState()
  if (state === 'reconnecting')
    return (
      <span className="live-pill reconnecting" role="status" data-testid="reconnecting">
        reconnecting…
      </span>
    )
  if (state === 'open')
    return (
      <span className="live-pill open" title="Live updates on">
        <span className="live-dot" aria-hidden="true" /> live
      </span>
    )
  return null
}

function UserMenu() {
  const { me, logout } = useAuth()
  const navigate = useNavigate()
  const [open, setOpen] = useState(false)
  const wrap = useRef<HTMLDivElement>(null)
  const location = useLocation()
  useEffect(() => setOpen(false), [location.pathname])
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
  if (!me)
    return (
      <div className="auth-links">
        <Link to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} className="btn btn-ghost btn-small">
          Log in
        </Link>
        <Link to="/register" className="btn btn-primary btn-small">
          Sign up
        </Link>
      </div>
    )
  return (
    <div className="menu-wrap" ref={wrap}>
      <button className="icon-btn avatar-btn" aria-haspopup="true" aria-expanded={open} aria-label={`Account menu for ${me.username}`} onClick={() => setOpen(!open)}>
        <Avatar name={me.profile.display_name || me.username} url={me.profile.photo_url} size={32} />
      </button>
      {open && (
        <div className="popover menu" role="menu">
          <div className="popover-head">
            <strong>{me.profile.display_name}</strong> <span className="muted">@{me.username}</span>
          </div>
          <Link role="menuitem" to={`/u/${me.username}`}>
            Your profile
          </Link>
          <Link role="menuitem" to="/notifications">
            Notifications
          </Link>
          <Link role="menuitem" to="/settings">
            Settings
          </Link>
          {me.is_admin && (
            <>
              <hr />
              <span className="menu-label muted small">Admin</span>
              <Link role="menuitem" to="/admin">
                Moderation
              </Link>
              <a role="menuitem" href="/redoc">
                API docs (Redoc)
              </a>
              <a role="menuitem" href={monitorURL()}>
                Task queues (asynqmon)
              </a>
            </>
          )}
          <hr />
          <button
            role="menuitem"
            className="linklike"
            onClick={async () => {
              setOpen(false)
              navigate('/')
              await logout()
            }}
          >
            Log out
          </button>
        </div>
      )}
    </div>
  )
}

// Messages the server's redirects carry in the query (e-mail links).
function QueryNotices() {
  const [params, setParams] = useSearchParams()
  const toast = useToast()
  useEffect(() => {
    const notes: [string, string, string, 'success' | 'error'][] = [
      ['email_verified', '1', 'Your e-mail address is verified. Thanks!', 'success'],
      ['email_verified', '0', 'That verification link is used, expired or replaced. Ask for a new one in Settings.', 'error'],
      ['email_changed', '1', 'Your e-mail address was changed.', 'success'],
      ['email_changed', '0', 'That link is used, expired, or the address was taken meanwhile.', 'error'],
      ['deleted', '1', 'Your account was deleted. Come back any time.', 'success'],
      ['welcome', '1', 'Welcome to Jokster! Rate a few posts, then post your own.', 'success'],
    ]
    let changed = false
    const p = new URLSearchParams(params)
    for (const [k, v, text, kind] of notes) {
      if (p.get(k) === v) {
        toast(text, kind)
        p.delete(k)
        changed = true
      }
    }
    if (changed) setParams(p, { replace: true })
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [params])
  return null
}

export function Layout({ children }: { children: ReactNode }) {
  const { me } = useAuth()
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <Link to="/" className="logo" aria-label="Jokster home">
            <span aria-hidden="true">😂</span> <span className="logo-text">Jokster</span>
          </Link>
          <nav className="mainnav" aria-label="Main">
            <NavLink to="/" end>
              <span aria-hidden="true">🏠</span> <span>Feed</span>
            </NavLink>
            <NavLink to="/leaderboards">
              <span aria-hidden="true">🏆</span> <span>Leaderboards</span>
            </NavLink>
            <NavLink to="/danger">
              <span aria-hidden="true">☠️</span> <span>Danger zone</span>
            </NavLink>
            <NavLink to="/upload" className="nav-upload">
              <span aria-hidden="true">+</span> <span>Upload</span>
            </NavLink>
          </nav>
          <div className="topbar-right">
            <LiveIndicator />
            <ThemeToggle />
            {me && <NotificationBell />}
            <UserMenu />
          </div>
        </div>
      </header>
      <QueryNotices />
      <main id="main" tabIndex={-1}>
        {children}
      </main>
      <footer className="footer muted small">
        Jokster — survival of the funniest · <a href="/redoc">API</a>
      </footer>
    </>
  )
}
