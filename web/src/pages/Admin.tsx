// Moderation for admins: open reports, resolve, remove; links to the API
// docs and the task-queue monitor.

import { useCallback, useEffect, useState } from 'react'
import { Link } from 'react-router'
import { api, errorMessage, qs } from '../api/client'
import type { Page } from '../api/types'
import { useAuth } from '../auth/auth'
import { ConfirmDialog, RemovePostDialog } from '../components/Dialog'
import { TimeAgo } from '../components/TimeAgo'
import { useDocumentTitle } from '../lib/hooks'
import { Spinner } from './Feed'
import { monitorURL } from '../lib/links'

interface Report {
  id: string
  post_id: string
  reporter: string | null
  reason: string
  note: string
  created_at: string
  resolved_at: string | null
  resolution: string
}


export default function Admin() {
  useDocumentTitle('Admin')
  const { me } = useAuth()
  const [acting, setActing] = useState<{ kind: 'resolve' | 'remove'; report: Report } | null>(null)
  const [all, setAll] = useState(false)
  const [items, setItems] = useState<Report[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const load = useCallback(async () => {
    try {
      setItems((await api<Page<Report>>('/admin/reports' + qs({ all: all ? 'true' : undefined, limit: 100 }))).items)
    } catch (e) {
      setError(errorMessage(e))
    }
  }, [all])
  useEffect(() => {
    if (me?.is_admin) void load()
  }, [me, load])
  if (!me?.is_admin) return <div className="card empty">Admins only.</div>

  return (
    <div className="admin-page">
      <h1>Admin</h1>
      <section className="card">
        <h2>Tools</h2>
        <ul className="links">
          <li>
            <a href="/redoc">API documentation (Redoc)</a>
          </li>
          <li>
            <a href="/monitor/">Task queues (asynqmon, behind nginx)</a> · <a href={monitorURL()}>on the operations port</a>
          </li>
        </ul>
      </section>
      <section className="card">
        <div className="row">
          <h2>Reports</h2>
          <label className="check">
            <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> include resolved
          </label>
        </div>
        {error && <div className="error-box">{error}</div>}
        {!items ? (
          <Spinner />
        ) : items.length === 0 ? (
          <p className="muted">No open reports. 🎉</p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th>Post</th>
                <th>Reason</th>
                <th>By</th>
                <th>When</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id}>
                  <td>
                    <Link to={`/p/${r.post_id}`}>#{r.post_id}</Link>
                  </td>
                  <td>
                    {r.reason}
                    {r.note && <div className="muted small">{r.note}</div>}
                  </td>
                  <td>{r.reporter ? <Link to={`/u/${r.reporter}`}>@{r.reporter}</Link> : <span className="muted">service</span>}</td>
                  <td>
                    <TimeAgo iso={r.created_at} />
                  </td>
                  <td>{r.resolved_at ? r.resolution || 'resolved' : 'open'}</td>
                  <td className="row">
                    {!r.resolved_at && (
                      <>
                        <button className="btn btn-small" onClick={() => setActing({ kind: 'resolve', report: r })}>
                          Resolve
                        </button>
                        <button className="btn btn-small danger" onClick={() => setActing({ kind: 'remove', report: r })}>
                          Remove post
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {acting?.kind === 'resolve' && (
        <ConfirmDialog
          title={`Resolve the report on post #${acting.report.post_id}`}
          input={{ label: 'What was done about it?', initial: 'not against the rules', required: true, maxLength: 500 }}
          confirmLabel="Resolve"
          onConfirm={async (resolution) => {
            await api(`/admin/reports/${acting.report.id}/resolve`, { method: 'POST', body: { resolution } })
            void load()
          }}
          onClose={() => setActing(null)}
        />
      )}
      {acting?.kind === 'remove' && (
        <RemovePostDialog
          postId={acting.report.post_id}
          title={`Remove post #${acting.report.post_id}`}
          initialReason={acting.report.reason}
          onRemoved={() => void load()}
          onClose={() => setActing(null)}
        />
      )}
    </div>
  )
}
