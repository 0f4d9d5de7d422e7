// A modal built on <dialog>: the browser traps focus, Escape closes it, and
// focus returns where it was.
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react'
import { api, errorMessage } from '../api/client'
import type { Post } from '../api/types'

export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  useEffect(() => {
    const d = ref.current
    if (!d) return
    const before = document.activeElement as HTMLElement | null
    if (!d.open) d.showModal()
    return () => {
      if (d.open) d.close()
      before?.focus?.()
    }
  }, [])
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault()
        onClose()
      }}
      onClick={(e) => {
        if (e.target === ref.current) onClose()
      }}
    >
      <div className="dialog-body">
        <div className="dialog-head">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </div>
        {children}
      </div>
    </dialog>
  )
}

// ConfirmDialog asks before doing something (in place of window.confirm),
// optionally with a text to give (in place of window.prompt). onConfirm runs
// the action; while it runs the buttons are disabled, and if it throws, its
// error is shown in the dialog, which stays open.
export function ConfirmDialog({
  title,
  message,
  confirmLabel,
  danger = false,
  input,
  onConfirm,
  onClose,
}: {
  title: string
  message?: ReactNode
  confirmLabel: string
  danger?: boolean
  // A text field: its label, first value, and whether it may be empty.
  input?: { label: string; initial?: string; required?: boolean; multiline?: boolean; maxLength?: number }
  onConfirm: (value: string) => Promise<void> | void
  onClose: () => void
}) {
  const [value, setValue] = useState(input?.initial ?? '')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<string | null>(null)
  const inputId = useId()
  async function submit(e: FormEvent) {
    e.preventDefault()
    if (input?.required && !value.trim()) return
    setBusy(true)
    setErr(null)
    try {
      await onConfirm(value.trim())
      onClose()
    } catch (x) {
      setErr(errorMessage(x))
      setBusy(false)
    }
  }
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit} className="form">
        {message && <div className="dialog-message">{message}</div>}
        {input && (
          <div className="field">
            <label htmlFor={inputId}>{input.label}</label>
            {input.multiline ? (
              <textarea id={inputId} rows={3} maxLength={input.maxLength} required={input.required} value={value} onChange={(e) => setValue(e.target.value)} autoFocus />
            ) : (
              <input id={inputId} maxLength={input.maxLength} required={input.required} value={value} onChange={(e) => setValue(e.target.value)} autoFocus />
            )}
          </div>
        )}
        {err && (
          <p className="field-error" role="alert">
            {err}
          </p>
        )}
        <div className="row dialog-actions">
          <button type="button" className="btn" onClick={onClose} autoFocus={!input}>
            Cancel
          </button>
          <button className={`btn ${danger ? 'btn-danger' : 'btn-primary'}`} disabled={busy || (!!input?.required && !value.trim())}>
            {confirmLabel}
          </button>
        </div>
      </form>
    </Dialog>
  )
}

// RemovePostDialog asks a moderator why, then removes post postId; onRemoved
// gets the post as it is now.
export function RemovePostDialog({
  postId,
  title,
  initialReason,
  onRemoved,
  onClose,
}: {
  postId: string
  title: string
  initialReason?: string
  onRemoved: (p: Post) => void
  onClose: () => void
}) {
  return (
    <ConfirmDialog
      title={title}
      message={<p>It leaves the feeds and the boards; the author is told why.</p>}
      input={{ label: 'Reason (the author sees it)', initial: initialReason, required: true, maxLength: 500 }}
      confirmLabel="Remove post"
      danger
      onConfirm={async (reason) => {
        onRemoved(await api<Post>(`/admin/posts/${postId}/remove`, { method: 'POST', body: { reason } }))
      }}
      onClose={onClose}
    />
  )
}
