// The REST client: JSON in and out, the access token in memory only, the
// refresh token in the httpOnly cookie `jokster_refresh` (the browser sends it
// to /api/v1/auth only). A 401 on a request made with a token refreshes the
// session once and retries.

import type { ApiErrorBody, Session } from './types'
import { sentence } from '../lib/format'

export class ApiError extends Error {
  status: number
  code: string
  fields: Record<string, string>
  retryAfter: number | null
  constructor(status: number, code: string, message: string, fields?: Record<string, string>, retryAfter?: number | null) {
    super(message)
    this.status = status
    this.code = code
    this.fields = fields ?? {}
    this.retryAfter = retryAfter ?? null
  }
}

type SessionListener = (token: string | null) => void

// A flag in localStorage that says "this browser probably has a refresh
// cookie", so anonymous visitors do not send a refresh that can only fail.
// It holds no secret.
const HINT = 'jokster.signedIn'

let accessToken: string | null = null
let refreshTimer: ReturnType<typeof setTimeout> | null = null
let refreshing: Promise<string | null> | null = null
const listeners = new Set<SessionListener>()

export function getAccessToken(): string | null {
  return accessToken
}

export function onSessionChange(fn: SessionListener): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

function hint(on: boolean) {
  try {
    if (on) localStorage.setItem(HINT, '1')
    else localStorage.removeItem(HINT)
  } catch {
    /* storage may be disabled */
  }
}

export function mayHaveSession(): boolean {
  try {
    return localStorage.getItem(HINT) === '1'
  } catch {
    return false
  }
}

export function setSession(s: Session | null) {
  if (refreshTimer) clearTimeout(refreshTimer)
  refreshTimer = null
  accessToken = s ? s.access_token : null
  hint(!!s)
  if (s) {
    // Refresh a minute before the access token expires (and at least after
    // half its lifetime for short ones), so the WebSocket can re-auth too.
    const ms = Math.max(5_000, Math.min(s.expires_in * 500, (s.expires_in - 60) * 1000))
    refreshTimer = setTimeout(() => void refreshSession(), ms)
  }
  for (const fn of listeners) fn(accessToken)
}

async function doRefresh(): Promise<string | null> {
  const res = await fetch('/api/v1/auth/refresh', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  })
  if (!res.ok) {
    // Only the server saying the session is over ends it. A 429 (the
    // per-IP limit) or a restart (502, 503) is passing: keep the session
    // and try again shortly.
    if (res.status === 400 || res.status === 401 || res.status === 403) {
      setSession(null)
      return null
    }
    if (refreshTimer) clearTimeout(refreshTimer)
    refreshTimer = setTimeout(() => void refreshSession(), 10_000)
    return accessToken
  }
  const s = (await res.json()) as Session
  setSession(s)
  return s.access_token
}

// refreshSession spends the refresh cookie for a new session. Only one
// refresh runs at a time in this tab, and the Web Locks API (where there is
// one) keeps two tabs from spending the same cookie: the server treats a
// reused refresh token as theft and revokes the whole session.
export function refreshSession(): Promise<string | null> {
  if (refreshing) return refreshing
  const run = async () => {
    try {
      if (typeof navigator !== 'undefined' && navigator.locks) {
        return await navigator.locks.request('jokster-refresh', doRefresh)
      }
      return await doRefresh()
    } catch {
      return accessToken
    } finally {
      refreshing = null
    }
  }
  refreshing = run()
  return refreshing
}

async function errorFrom(res: Response): Promise<ApiError> {
  let body: ApiErrorBody | null = null
  try {
    body = (await res.json()) as ApiErrorBody
  } catch {
    body = null
  }
  const ra = res.headers.get('Retry-After')
  const e = body?.error
  return new ApiError(
    res.status,
    e?.code ?? 'http_' + res.status,
    e?.message ?? `the server answered ${res.status} ${res.statusText}`,
    e?.fields,
    ra ? Number(ra) : null,
  )
}

export interface RequestOptions {
  method?: string
  body?: unknown
  signal?: AbortSignal
  // Do not try to refresh the session on a 401.
  noRetry?: boolean
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const send = (token: string | null) => {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
    if (token) headers.Authorization = 'Bearer ' + token
    return fetch('/api/v1' + path, {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'same-origin',
      signal: opts.signal,
    })
  }
  const token = accessToken
  let res = await send(token)
  if (res.status === 401 && token && !opts.noRetry) {
    const fresh = await refreshSession()
    res = await send(fresh)
  }
  if (!res.ok) throw await errorFrom(res)
  if (res.status === 204) return undefined as T
  const text = await res.text()
  return (text ? JSON.parse(text) : undefined) as T
}

export function qs(params: Record<string, string | number | boolean | null | undefined>): string {
  const u = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue
    u.set(k, String(v))
  }
  const s = u.toString()
  return s ? '?' + s : ''
}

export interface UploadHandle<T> {
  promise: Promise<T>
  abort: () => void
}

// upload sends multipart/form-data with XMLHttpRequest, whose upload
// progress events give a real progress bar (fetch has none).
export function upload<T>(method: string, path: string, form: FormData, onProgress: (loaded: number, total: number) => void): UploadHandle<T> {
  const xhr = new XMLHttpRequest()
  const attempt = (token: string | null) =>
    new Promise<{ status: number; text: string; retryAfter: string | null }>((resolve, reject) => {
      xhr.open(method, '/api/v1' + path)
      xhr.setRequestHeader('Accept', 'application/json')
      if (token) xhr.setRequestHeader('Authorization', 'Bearer ' + token)
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded, e.total)
      }
      xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText, retryAfter: xhr.getResponseHeader('Retry-After') })
      xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload failed: the connection was lost'))
      xhr.onabort = () => reject(new ApiError(0, 'aborted', 'the upload was cancelled'))
      xhr.send(form)
    })
  const promise = (async () => {
    // Make sure the token is fresh first: a retry would send the file twice.
    if (!accessToken) await refreshSession()
    let r = await attempt(accessToken)
    if (r.status === 401) {
      const fresh = await refreshSession()
      if (fresh) r = await attempt(fresh)
    }
    let body: unknown = null
    try {
      body = r.text ? JSON.parse(r.text) : null
    } catch {
      body = null
    }
    if (r.status < 200 || r.status >= 300) {
      const e = (body as ApiErrorBody | null)?.error
      throw new ApiError(r.status, e?.code ?? 'http_' + r.status, e?.message ?? `the server answered ${r.status}`, e?.fields, r.retryAfter ? Number(r.retryAfter) : null)
    }
    return body as T
  })()
  return { promise, abort: () => xhr.abort() }
}

export const OFFLINE_MESSAGE = "Can't reach Jokster — check your connection"

// isNetworkError: fetch rejects with a TypeError when no answer came at all
// (offline, DNS, connection refused or reset): "Failed to fetch" (Chromium),
// "NetworkError when attempting to fetch resource." (Firefox), "Load failed"
// (Safari).
function isNetworkError(e: unknown): boolean {
  if (e instanceof ApiError) return e.code === 'network'
  return e instanceof TypeError && /fetch|network|load failed/i.test(e.message)
}

// errorMessage is what to show people for a failed request: the server's
// message (capitalised), or a human one for a network failure.
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 'network') return e.message ? sentence(e.message) : OFFLINE_MESSAGE
    // A proxy's answer while the server restarts (no JSON body).
    if (e.code === 'http_502' || e.code === 'http_503' || e.code === 'http_504') return 'Jokster is not answering right now — try again in a moment'
    if (e.code === 'rate_limited' && e.retryAfter) return `${sentence(e.message)} (try again in ${e.retryAfter} s)`
    return sentence(e.message)
  }
  if (isNetworkError(e)) return OFFLINE_MESSAGE
  if (e instanceof Error) return sentence(e.message)
  return sentence(String(e))
}
