// Log in, sign up, forgot and reset password.

import { useState, type FormEvent, type ReactNode } from 'react'
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router'
import { api, ApiError, errorMessage } from '../api/client'
import { useAuth } from '../auth/auth'
import { useDocumentTitle } from '../lib/hooks'

function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/'
}

export function Field({ id, label, error, children, hint }: { id: string; label: string; error?: string; children: ReactNode; hint?: string }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && !error && <span className="muted small">{hint}</span>}
      {error && (
        <span className="field-error" id={id + '-error'}>
          {error}
        </span>
      )}
    </div>
  )
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
  const next = safeNext(params.get('next'))
  if (me && !busy) return <Navigate to={next} replace />
  async function submit(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await login(who, password)
      navigate(next, { replace: true })
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'Wrong username, e-mail address or password.' : errorMessage(err))
      setBusy(false)
    }
  }
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
        </p>
      )}
      <button className="btn btn-primary" disabled={busy}>
        {busy ? 'Logging in…' : 'Log in'}
      </button>
      <p className="muted">
        <Link to="/forgot-password">Forgot your password?</Link> · New here? <Link to={`/register${next !== '/' ? '?next=' + encodeURIComponent(next) : ''}`}>Sign up</Link>
      </p>
    </form>
  )
}

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
        if (!Object.keys(err.fields).length) setError(err.message)
      } else setError(errorMessage(err))
      setBusy(false)
    }
  }
  return (
    <form className="card form narrow" onSubmit={submit}>
      <h1>Join Jokster</h1>
      <p className="muted">Post what makes you laugh. The community decides what survives.</p>
      <Field id="username" label="Username" error={fields.username} hint="3 to 30 letters, digits or underscores">
        <input id="username" autoComplete="username" required pattern="[A-Za-z0-9_]{3,30}" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus aria-invalid={!!fields.username} />
      </Field>
      <Field id="email" label="E-mail" error={fields.email}>
        <input id="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} aria-invalid={!!fields.email} />
      </Field>
      <Field id="new-password" label="Password" error={fields.password} hint="At least 10 characters; a few words make a good one">
        <input id="new-password" type="password" autoComplete="new-password" required minLength={10} value={password} onChange={(e) => setPassword(e.target.value)} aria-invalid={!!fields.password} />
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
        <p role="status">{sent[0]!.toUpperCase() + sent.slice(1)}. The link is valid for an hour.</p>
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
