// Log in, sign up, forgot and reset password.

import { cloneElement, isValidElement, useEffect, useState, type FormEvent, type ReactNode } from 'react'
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router'
import { api, ApiError, errorMessage } from '../api/client'
import { useAuth } from '../auth/auth'
import { useDocumentTitle } from '../lib/hooks'
import { sentence } from '../lib/format'
import { useNow } from '../live/live'

function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/'
}

// Field is a label, one input, and its hint or error; the input is told
// which (aria-describedby) and whether its value was refused (aria-invalid).
export function Field({ id, label, error, children, hint }: { id: string; label: string; error?: string; children: ReactNode; hint?: string }) {
  const hintId = hint && !error ? id + '-hint' : undefined
  const errorId = error ? id + '-error' : undefined
  let input = children
  if (isValidElement<{ 'aria-describedby'?: string; 'aria-invalid'?: boolean | 'true' | 'false' }>(children)) {
    const own = children.props['aria-describedby']
    const describedBy = [own, errorId, hintId].filter(Boolean).join(' ') || undefined
    input = cloneElement(children, { 'aria-describedby': describedBy, 'aria-invalid': error ? true : children.props['aria-invalid'] })
  }
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {input}
      {hintId && (
        <span className="muted small" id={hintId}>
          {hint}
        </span>
      )}
      {errorId && (
        <span className="field-error" id={errorId}>
          {sentence(error!)}
        </span>
      )}
    </div>
  )
}

// loginFailure: what a refused log-in says, and for how long the form waits
// (the server's Retry-After, after too many failed attempts).
export function loginFailure(err: unknown): { text: string; waitSeconds: number | null } {
  if (err instanceof ApiError && err.status === 401) return { text: 'Wrong username, e-mail address or password.', waitSeconds: null }
  if (err instanceof ApiError && err.status === 429 && err.retryAfter && err.retryAfter > 0) {
    // The form counts down itself: the message's own "wait" goes.
    const text = sentence(err.message).replace(/;\s*(wait before trying again|try again in \d+\s*s)\.?$/i, '')
    return { text: text.endsWith('.') ? text : text + '.', waitSeconds: err.retryAfter }
  }
  return { text: errorMessage(err), waitSeconds: null }
}

// waitText: "42 s", "2 min 05 s".
export function waitText(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds))
  if (s < 60) return `${s} s`
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
}

export function Login() {
  useDocumentTitle('Log in')
  const { login, me } = useAuth()
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const [who, setWho] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  // Throttled: no attempt before this time (ms).
  const [until, setUntil] = useState<number | null>(null)
  useNow(until ? 1000 : null)
  const left = until ? Math.ceil((until - Date.now()) / 1000) : 0
  useEffect(() => {
    if (until && left <= 0) {
      setUntil(null)
      setError(null)
    }
  }, [until, left])
  const next = safeNext(params.get('next'))
  if (me && !busy) return <Navigate to={next} replace />
  async function submit(e: FormEvent) {
    e.preventDefault()
    if (until) return
    setBusy(true)
    setError(null)
    try {
      await login(who, password)
      navigate(next, { replace: true })
    } catch (err) {
      const f = loginFailure(err)
      setError(f.text)
      setUntil(f.waitSeconds ? Date.now() + f.waitSeconds * 1000 : null)
      setBusy(false)
    }
  }
  const waiting = until !== null && left > 0
  return (
    <form className="card form narrow" onSubmit={submit}>
      <h1>Log in</h1>
      <Field id="who" label="Username or e-mail">
        <input id="who" autoComplete="username" required value={who} onChange={(e) => setWho(e.target.value)} autoFocus />
      </Field>
      <Field id="password" label="Password">
        <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </Field>
      {error && (
        <p className="error-box" role="alert">
          {error}
          {waiting && (
            <>
              {' '}
              <span data-testid="login-wait">You can try again in {waitText(left)}.</span>
            </>
          )}
        </p>
      )}
      <button className="btn btn-primary" disabled={busy || waiting}>
        {busy ? 'Logging in…' : waiting ? `Log in (wait ${waitText(left)})` : 'Log in'}
      </button>
      <p className="muted">
        <Link to="/forgot-password">Forgot your password?</Link> · New here? <Link to={`/register${next !== '/' ? '?next=' + encodeURIComponent(next) : ''}`}>Sign up</Link>
      </p>
    </form>
  )
}

const REGISTER_FIELDS = ['username', 'email', 'password']

export function Register() {
  useDocumentTitle('Sign up')
  const { login, me } = useAuth()
  const navigate = useNavigate()
  const [params] = useSearchParams()
  const [username, setUsername] = useState('')
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [fields, setFields] = useState<Record<string, string>>({})
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const next = safeNext(params.get('next'))
  if (me && !busy) return <Navigate to={next} replace />
  async function submit(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    setError(null)
    setFields({})
    try {
      await api('/auth/register', { method: 'POST', body: { username, email, password }, noRetry: true })
      await login(username, password)
      navigate(next === '/' ? '/?welcome=1' : next, { replace: true })
    } catch (err) {
      if (err instanceof ApiError) {
        setFields(err.fields)
        const other = Object.entries(err.fields).filter(([k]) => !REGISTER_FIELDS.includes(k))
        if (!Object.keys(err.fields).length) setError(errorMessage(err))
        else if (other.length) setError(other.map(([, v]) => sentence(v)).join(' '))
      } else setError(errorMessage(err))
      setBusy(false)
    }
  }
  return (
    <form className="card form narrow" onSubmit={submit}>
      <h1>Join Jokster</h1>
      <p className="muted">Post what makes you laugh. The community decides what survives.</p>
      <Field id="username" label="Username" error={fields.username} hint="3 to 30 letters, digits or underscores">
        <input id="username" autoComplete="username" required pattern="[A-Za-z0-9_]{3,30}" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
      </Field>
      <Field id="email" label="E-mail" error={fields.email}>
        <input id="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
      </Field>
      <Field id="new-password" label="Password" error={fields.password} hint="At least 10 characters; a few words make a good one">
        <input id="new-password" type="password" autoComplete="new-password" required minLength={10} value={password} onChange={(e) => setPassword(e.target.value)} />
      </Field>
      {error && (
        <p className="error-box" role="alert">
          {error}
        </p>
      )}
      <button className="btn btn-primary" disabled={busy}>
        {busy ? 'Creating your account…' : 'Sign up'}
      </button>
      <p className="muted">
        Already have an account? <Link to="/login">Log in</Link>
      </p>
    </form>
  )
}

export function ForgotPassword() {
  useDocumentTitle('Forgot password')
  const [email, setEmail] = useState('')
  const [sent, setSent] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  async function submit(e: FormEvent) {
    e.preventDefault()
    setError(null)
    try {
      const r = await api<{ message: string }>('/auth/password/forgot', { method: 'POST', body: { email }, noRetry: true })
      setSent(r.message)
    } catch (err) {
      setError(errorMessage(err))
    }
  }
  return (
    <form className="card form narrow" onSubmit={submit}>
      <h1>Forgot your password?</h1>
      {sent ? (
        <p role="status">{sentence(sent)}. The link is valid for an hour.</p>
      ) : (
        <>
          <p className="muted">We will mail you a link to set a new one.</p>
          <Field id="email" label="E-mail">
            <input id="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />
          </Field>
          {error && (
            <p className="error-box" role="alert">
              {error}
            </p>
          )}
          <button className="btn btn-primary">Send the link</button>
        </>
      )}
      <p className="muted">
        <Link to="/login">Back to log in</Link>
      </p>
    </form>
  )
}

export function ResetPassword() {
  useDocumentTitle('Set a new password')
  const [params] = useSearchParams()
  const token = params.get('token') ?? ''
  const [password, setPassword] = useState('')
  const [done, setDone] = useState(false)
  const [fields, setFields] = useState<Record<string, string>>({})
  const [error, setError] = useState<string | null>(null)
  async function submit(e: FormEvent) {
    e.preventDefault()
    setError(null)
    setFields({})
    try {
      await api('/auth/password/reset', { method: 'POST', body: { token, password }, noRetry: true })
      setDone(true)
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length) setFields(err.fields)
      else setError(errorMessage(err))
    }
  }
  if (!token)
    return (
      <div className="card narrow">
        <h1>Set a new password</h1>
        <p>This page needs the link from the reset mail. <Link to="/forgot-password">Ask for a new one.</Link></p>
      </div>
    )
  return (
    <form className="card form narrow" onSubmit={submit}>
      <h1>Set a new password</h1>
      {done ? (
        <p role="status">
          Your password was changed and every other session signed out. <Link to="/login">Log in with it.</Link>
        </p>
      ) : (
        <>
          {fields.token && (
            <p className="error-box" role="alert">
              This link is no longer valid ({fields.token}). <Link to="/forgot-password">Ask for a new one.</Link>
            </p>
          )}
          <Field id="new-password" label="New password" error={fields.password} hint="At least 10 characters">
            <input id="new-password" type="password" autoComplete="new-password" required minLength={10} value={password} onChange={(e) => setPassword(e.target.value)} autoFocus />
          </Field>
          {error && (
            <p className="error-box" role="alert">
              {error}
            </p>
          )}
          <button className="btn btn-primary">Set password</button>
        </>
      )}
    </form>
  )
}
