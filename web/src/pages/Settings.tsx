// The signed-in user's settings: profile and photo, e-mail, password, data
// export, account deletion.

import { useEffect, useState, type FormEvent } from 'react'
import { Link, Navigate } from 'react-router'
import { api, ApiError, errorMessage, getAccessToken, setSession, upload } from '../api/client'
import type { Profile, Session } from '../api/types'
import { useAuth } from '../auth/auth'
import { useToast } from '../components/Toasts'
import { Avatar } from '../components/Avatar'
import { Field } from './Account'
import { useDocumentTitle } from '../lib/hooks'

export default function Settings() {
  useDocumentTitle('Settings')
  const { me, ready } = useAuth()
  if (ready && !me) return <Navigate to="/login?next=%2Fsettings" replace />
  if (!me) return null
  return (
    <div className="settings-page">
      <h1>Settings</h1>
      <ProfileForm />
      <PhotoForm />
      <EmailForm />
      <PasswordForm />
      <DataSection />
      <DeleteSection />
    </div>
  )
}

function ProfileForm() {
  const { me, setMe } = useAuth()
  const toast = useToast()
  const p = me!.profile
  const [v, setV] = useState({ display_name: p.display_name, about: p.about, country: p.country, city: p.city })
  const [fields, setFields] = useState<Record<string, string>>({})
  const [busy, setBusy] = useState(false)
  async function submit(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    setFields({})
    try {
      const profile = await api<Profile>('/me/profile', { method: 'PATCH', body: v })
      setMe({ ...me!, profile })
      toast('Profile saved', 'success')
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length) setFields(err.fields)
      else toast(errorMessage(err), 'error')
    } finally {
      setBusy(false)
    }
  }
  return (
    <form className="card form" onSubmit={submit} aria-labelledby="profile-h">
      <h2 id="profile-h">Profile</h2>
      <Field id="display_name" label="Display name" error={fields.display_name}>
        <input id="display_name" maxLength={50} value={v.display_name} onChange={(e) => setV({ ...v, display_name: e.target.value })} />
      </Field>
      <Field id="about" label="About" error={fields.about}>
        <textarea id="about" maxLength={500} rows={3} value={v.about} onChange={(e) => setV({ ...v, about: e.target.value })} />
      </Field>
      <div className="row">
        <Field id="country" label="Country (2-letter code)" error={fields.country}>
          <input id="country" maxLength={2} size={3} value={v.country} onChange={(e) => setV({ ...v, country: e.target.value.toUpperCase() })} placeholder="DE" />
        </Field>
        <Field id="city" label="City" error={fields.city}>
          <input id="city" maxLength={100} value={v.city} onChange={(e) => setV({ ...v, city: e.target.value })} />
        </Field>
      </div>
      <button className="btn btn-primary" disabled={busy}>
        Save profile
      </button>
    </form>
  )
}

function PhotoForm() {
  const { me, setMe } = useAuth()
  const toast = useToast()
  const [progress, setProgress] = useState<number | null>(null)
  async function choose(f: File | undefined) {
    if (!f) return
    const form = new FormData()
    form.append('photo', f, f.name)
    setProgress(0)
    try {
      const profile = await upload<Profile>('PUT', '/me/profile/photo', form, (l, t) => setProgress(l / t)).promise
      setMe({ ...me!, profile })
      toast('Photo updated', 'success')
    } catch (err) {
      toast(errorMessage(err), 'error')
    } finally {
      setProgress(null)
    }
  }
  async function remove() {
    try {
      const profile = await api<Profile>('/me/profile/photo', { method: 'DELETE' })
      setMe({ ...me!, profile })
    } catch (err) {
      toast(errorMessage(err), 'error')
    }
  }
  return (
    <section className="card form" aria-labelledby="photo-h">
      <h2 id="photo-h">Photo</h2>
      <div className="row">
        <Avatar name={me!.profile.display_name || me!.username} url={me!.profile.photo_url} size={72} />
        <label className="btn" htmlFor="photo-input">
          Choose a photo
        </label>
        <input id="photo-input" className="sr-only" type="file" accept="image/jpeg,image/png,image/gif,image/webp" onChange={(e) => void choose(e.target.files?.[0])} />
        {me!.profile.photo_url && (
          <button className="btn btn-ghost" onClick={() => void remove()}>
            Remove
          </button>
        )}
      </div>
      {progress !== null && <progress max={1} value={progress} aria-label="Photo upload progress" />}
      <p className="muted small">JPEG, PNG, GIF or WebP; it is cropped to a square.</p>
    </section>
  )
}

function EmailForm() {
  const { me } = useAuth()
  const toast = useToast()
  const [newEmail, setNewEmail] = useState('')
  const [password, setPassword] = useState('')
  const [fields, setFields] = useState<Record<string, string>>({})
  async function submit(e: FormEvent) {
    e.preventDefault()
    setFields({})
    try {
      const r = await api<{ message: string }>('/me/email', { method: 'POST', body: { new_email: newEmail, password } })
      toast(r.message, 'success')
      setNewEmail('')
      setPassword('')
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length) setFields(err.fields)
      else toast(errorMessage(err), 'error')
    }
  }
  async function resend() {
    try {
      const r = await api<{ message: string }>('/auth/verify/resend', { method: 'POST' })
      toast(r.message, 'success')
    } catch (err) {
      toast(errorMessage(err), 'error')
    }
  }
  return (
    <form className="card form" onSubmit={submit} aria-labelledby="email-h">
      <h2 id="email-h">E-mail</h2>
      <p>
        {me!.email}{' '}
        {me!.email_verified ? (
          <span className="chip small">verified</span>
        ) : (
          <>
            <span className="chip small warn">not verified</span>{' '}
            <button type="button" className="linklike" onClick={() => void resend()}>
              send a new link
            </button>
          </>
        )}
      </p>
      <Field id="new_email" label="New address" error={fields.new_email}>
        <input id="new_email" type="email" autoComplete="email" required value={newEmail} onChange={(e) => setNewEmail(e.target.value)} />
      </Field>
      <Field id="email-password" label="Password" error={fields.password}>
        <input id="email-password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </Field>
      <button className="btn">Change e-mail</button>
    </form>
  )
}

function PasswordForm() {
  const toast = useToast()
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [fields, setFields] = useState<Record<string, string>>({})
  async function submit(e: FormEvent) {
    e.preventDefault()
    setFields({})
    try {
      const s = await api<Session>('/me/password', { method: 'POST', body: { current_password: current, new_password: next } })
      setSession(s)
      toast('Password changed; your other sessions were signed out', 'success')
      setCurrent('')
      setNext('')
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length) setFields(err.fields)
      else toast(errorMessage(err), 'error')
    }
  }
  return (
    <form className="card form" onSubmit={submit} aria-labelledby="password-h">
      <h2 id="password-h">Password</h2>
      <input type="text" autoComplete="username" hidden readOnly />
      <Field id="current_password" label="Current password" error={fields.current_password}>
        <input id="current_password" type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
      </Field>
      <Field id="new_password" label="New password" error={fields.new_password} hint="At least 10 characters">
        <input id="new_password" type="password" autoComplete="new-password" required minLength={10} value={next} onChange={(e) => setNext(e.target.value)} />
      </Field>
      <button className="btn">Change password</button>
    </form>
  )
}

function DataSection() {
  const toast = useToast()
  async function exportData() {
    try {
      const res = await fetch('/api/v1/me/export', { headers: { Authorization: 'Bearer ' + getAccessToken() } })
      if (!res.ok) throw new Error(`export failed (${res.status})`)
      const blob = await res.blob()
      const a = document.createElement('a')
      a.href = URL.createObjectURL(blob)
      a.download = 'jokster-export.json'
      a.click()
      setTimeout(() => URL.revokeObjectURL(a.href), 1000)
    } catch (err) {
      toast(errorMessage(err), 'error')
    }
  }
  return (
    <section className="card form" aria-labelledby="data-h">
      <h2 id="data-h">Your data</h2>
      <p className="muted">Everything stored about you, as one JSON file.</p>
      <button className="btn" onClick={() => void exportData()}>
        Download my data
      </button>
    </section>
  )
}

function DeleteSection() {
  const [open, setOpen] = useState(false)
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  useEffect(() => setError(null), [open])
  async function submit(e: FormEvent) {
    e.preventDefault()
    try {
      await api('/me', { method: 'DELETE', body: { password } })
      // Start afresh: nothing of the old account stays in memory.
      setSession(null)
      window.location.replace('/?deleted=1')
    } catch (err) {
      setError(err instanceof ApiError && err.fields.password ? 'That is not your password.' : errorMessage(err))
    }
  }
  return (
    <section className="card form danger-card" aria-labelledby="delete-h">
      <h2 id="delete-h">Delete account</h2>
      {!open ? (
        <>
          <p className="muted">Your account, profile, photo, follows and notifications are deleted for good.</p>
          <button className="btn danger" onClick={() => setOpen(true)}>
            Delete my account…
          </button>
        </>
      ) : (
        <form onSubmit={submit} className="form">
          <input type="text" autoComplete="username" hidden readOnly />
          <Field id="delete-password" label="Type your password to confirm">
            <input id="delete-password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} autoFocus />
          </Field>
          {error && (
            <p className="error-box" role="alert">
              {error}
            </p>
          )}
          <div className="row">
            <button type="button" className="btn" onClick={() => setOpen(false)}>
              Keep my account
            </button>
            <button className="btn btn-danger">Delete for good</button>
          </div>
        </form>
      )}
      <p className="muted small">
        Changed your mind about something else? <Link to="/">Back to the laughs.</Link>
      </p>
    </section>
  )
}
