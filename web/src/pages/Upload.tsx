// Upload: drag and drop or pick a file (or just write a text joke), preview,
// caption and tags, a real progress bar (XMLHttpRequest upload events), then
// "processing" until the post is ready.

import { useEffect, useRef, useState, type DragEvent, type FormEvent } from 'react'
import { Link, Navigate, useNavigate } from 'react-router'
import { api, ApiError, errorMessage, upload, type UploadHandle } from '../api/client'
import type { Post } from '../api/types'
import { putPost } from '../lib/postStore'
import { useAuth } from '../auth/auth'
import { bytes, sentence } from '../lib/format'
import { parseTags } from '../lib/tags'
import { useDocumentTitle } from '../lib/hooks'
import { acceptList, checkFile, loadPostRules, mediaWords, tagsProblem, uploadHint, usePostRules } from '../api/rules'

type Phase = 'edit' | 'uploading' | 'processing' | 'ready' | 'failed'

// The fields this form shows errors beside; others go in the box below.
const FORM_FIELDS = ['media', 'caption', 'tags']

export default function Upload() {
  const { me, ready } = useAuth()
  const navigate = useNavigate()
  useDocumentTitle('Upload')
  const [file, setFile] = useState<File | null>(null)
  const [preview, setPreview] = useState<string | null>(null)
  const [caption, setCaption] = useState('')
  const [tags, setTags] = useState('')
  const [phase, setPhase] = useState<Phase>('edit')
  const [progress, setProgress] = useState(0)
  const [error, setError] = useState<string | null>(null)
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({})
  const [post, setPost] = useState<Post | null>(null)
  const [dragging, setDragging] = useState(false)
  const handle = useRef<UploadHandle<Post> | null>(null)
  const input = useRef<HTMLInputElement>(null)
  // What this server takes (GET /posts/rules; its defaults until read).
  const rules = usePostRules()

  useEffect(() => () => {
    if (preview) URL.revokeObjectURL(preview)
  }, [preview])
  useEffect(() => () => handle.current?.abort(), [])
  // A file picked before the rules were read may break them (a video on a
  // server without ffmpeg): say so at once rather than after the upload.
  useEffect(() => {
    if (phase !== 'edit' || !file) return
    const problem = checkFile(file, rules)
    if (problem) setError(problem)
  }, [rules, file, phase])

  // Processing: poll until the post is ready or failed.
  useEffect(() => {
    if (phase !== 'processing' || !post) return
    const t = setInterval(async () => {
      try {
        const p = await api<Post>(`/posts/${post.id}`)
        putPost(p)
        setPost(p)
        if (p.status === 'ready') setPhase('ready')
        else if (p.status === 'failed') {
          setPhase('failed')
          setError(p.failure ?? 'the file could not be processed')
        }
      } catch {
        /* keep polling */
      }
    }, 1000)
    return () => clearInterval(t)
  }, [phase, post])

  if (ready && !me) return <Navigate to="/login?next=%2Fupload" replace />

  function choose(f: File | null | undefined) {
    setError(null)
    setFieldErrors({})
    if (!f) return
    const problem = checkFile(f, rules)
    if (problem) {
      setError(problem)
      if (input.current) input.current.value = ''
      return
    }
    if (preview) URL.revokeObjectURL(preview)
    setFile(f)
    setPreview(URL.createObjectURL(f))
  }

  function onDrop(e: DragEvent) {
    e.preventDefault()
    setDragging(false)
    choose(e.dataTransfer.files?.[0])
  }

  function clearFile() {
    if (preview) URL.revokeObjectURL(preview)
    setFile(null)
    setPreview(null)
    if (input.current) input.current.value = ''
  }

  async function submit(e: FormEvent) {
    e.preventDefault()
    setError(null)
    setFieldErrors({})
    // The server checks the tags (and explains a bad one beside the field);
    // how many and how long is checked here first.
    const t = parseTags(tags)
    if (!file && !caption.trim()) {
      setError(`Add ${rules.videos ? 'a picture, a GIF or a video' : 'a picture or a GIF'} — or write a joke in the caption.`)
      return
    }
    // The server's own rules, not the defaults, decide (they are cached
    // after the first read, so this costs nothing then).
    const r = await loadPostRules()
    const problem = file ? checkFile(file, r) : null
    if (problem) {
      setError(problem)
      return
    }
    const tagError = tagsProblem(t, r)
    if (tagError) {
      setFieldErrors({ tags: tagError })
      return
    }
    const form = new FormData()
    form.append('caption', caption)
    if (t.length) form.append('tags', t.join(','))
    if (file) form.append('media', file, file.name)
    setPhase('uploading')
    setProgress(0)
    const h = upload<Post>('POST', '/posts', form, (loaded, total) => setProgress(total ? loaded / total : 0))
    handle.current = h
    try {
      const p = await h.promise
      putPost(p)
      setPost(p)
      setProgress(1)
      if (p.status === 'ready') setPhase('ready')
      else setPhase('processing')
    } catch (err) {
      setPhase('edit')
      if (err instanceof ApiError) {
        if (err.code === 'aborted') return
        setFieldErrors(err.fields)
        setError(uploadError(err) || null)
      } else setError(errorMessage(err))
    } finally {
      handle.current = null
    }
  }

  if (phase === 'processing' || phase === 'ready' || phase === 'failed') {
    return (
      <div className="upload card">
        <h1>{phase === 'ready' ? 'Posted!' : phase === 'failed' ? 'That did not work' : 'Processing…'}</h1>
        {preview && file && <PreviewMedia url={preview} type={file.type} />}
        {phase === 'processing' && (
          <p role="status" className="processing">
            <span className="spinner-dot" aria-hidden="true" /> Making it look good for every screen… this takes a few seconds.
          </p>
        )}
        {phase === 'failed' && (
          <p className="error-box" role="alert">
            {error}
          </p>
        )}
        {phase === 'ready' && post && (
          <p role="status" data-testid="upload-ready">
            Your post is live. May the laughs be with you.
          </p>
        )}
        <div className="row">
          {post && phase === 'ready' && (
            <Link className="btn btn-primary" to={`/p/${post.id}`}>
              View post
            </Link>
          )}
          <Link className="btn" to="/?tab=new">
            See it in New
          </Link>
          <button
            className="btn"
            onClick={() => {
              clearFile()
              setCaption('')
              setTags('')
              setPost(null)
              setError(null)
              setPhase('edit')
            }}
          >
            Post another
          </button>
        </div>
      </div>
    )
  }

  const uploading = phase === 'uploading'
  const tagList = parseTags(tags)
  return (
    <form className="upload card" onSubmit={submit} aria-busy={uploading}>
      <h1>Post something funny</h1>
      <div
        className={`dropzone${dragging ? ' dragging' : ''}${file ? ' has-file' : ''}`}
        onDragOver={(e) => {
          e.preventDefault()
          setDragging(true)
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        {file && preview ? (
          <>
            <PreviewMedia url={preview} type={file.type} />
            <p className="muted small">
              {file.name} · {bytes(file.size)}{' '}
              {!uploading && (
                <button type="button" className="linklike" onClick={clearFile}>
                  remove
                </button>
              )}
            </p>
          </>
        ) : (
          <>
            <p className="big-emoji" aria-hidden="true">
              🖼️
            </p>
            <p>
              Drop {mediaWords(rules)} here, or{' '}
              <label htmlFor="media-input" className="linklike">
                choose a file
              </label>
            </p>
            <p className="muted small" data-testid="upload-hint">
              {uploadHint(rules)} · or skip it and post a text joke
            </p>
          </>
        )}
        <input
          ref={input}
          id="media-input"
          className="sr-only"
          type="file"
          name="media"
          accept={acceptList(rules).join(',')}
          onChange={(e) => choose(e.target.files?.[0])}
          disabled={uploading}
        />
      </div>
      {fieldErrors.media && (
        <p className="field-error" id="media-error">
          {sentence(fieldErrors.media)}
        </p>
      )}

      <label htmlFor="caption">{file ? 'Caption' : 'Caption (or your text joke)'}</label>
      <textarea id="caption" rows={3} maxLength={rules.max_caption_chars} value={caption} onChange={(e) => setCaption(e.target.value)} disabled={uploading} placeholder="Make them laugh…" aria-describedby={fieldErrors.caption ? 'caption-count caption-error' : 'caption-count'} aria-invalid={!!fieldErrors.caption} />
      <span id="caption-count" className="muted small counter">
        {caption.length}/{rules.max_caption_chars}
      </span>
      {fieldErrors.caption && (
        <p className="field-error" id="caption-error">
          {sentence(fieldErrors.caption)}
        </p>
      )}

      <label htmlFor="tags">Tags</label>
      <input id="tags" value={tags} onChange={(e) => setTags(e.target.value)} disabled={uploading} placeholder="cats, fails, puns" aria-describedby={fieldErrors.tags ? 'tags-help tags-error' : 'tags-help'} aria-invalid={!!fieldErrors.tags} />
      <span id="tags-help" className="muted small">
        Comma separated, up to {rules.max_tags}.{' '}
        {tagList.length > 0 && tagList.map((t) => <span key={t} className="chip small">#{t}</span>)}
      </span>
      {fieldErrors.tags && (
        <p className="field-error" id="tags-error" role="alert">
          {sentence(fieldErrors.tags)}
        </p>
      )}

      {error && (
        <p className="error-box" role="alert">
          {error}
        </p>
      )}

      {uploading && (
        <div className="progress-wrap">
          <progress max={1} value={progress} aria-label="Upload progress" />
          <span className="muted small">{Math.round(progress * 100)} %</span>
        </div>
      )}
      <div className="row">
        {uploading ? (
          <button type="button" className="btn" onClick={() => handle.current?.abort()}>
            Cancel
          </button>
        ) : (
          <button type="button" className="btn" onClick={() => navigate(-1)}>
            Back
          </button>
        )}
        <button className="btn btn-primary" disabled={uploading}>
          {uploading ? 'Uploading…' : 'Post it'}
        </button>
      </div>
    </form>
  )
}

function uploadError(e: ApiError): string {
  switch (e.code) {
    case 'too_large':
      return `Too big: ${e.message}`
    case 'unsupported':
      return sentence(e.message) + '.'
    case 'rate_limited':
      return `You are posting too fast${e.retryAfter ? `; try again in ${e.retryAfter} s` : ''}.`
    case 'invalid': {
      // Errors of the form's fields are shown beside them.
      const f = Object.entries(e.fields).filter(([k]) => !FORM_FIELDS.includes(k))
      if (f.length) return f.map(([, v]) => sentence(v)).join('; ')
      return Object.keys(e.fields).length ? '' : errorMessage(e)
    }
    default:
      return errorMessage(e)
  }
}

function PreviewMedia({ url, type }: { url: string; type: string }) {
  const [broken, setBroken] = useState(false)
  if (broken) return <p className="muted">This file cannot be previewed; the server will tell whether it can be used.</p>
  if (type.startsWith('video/')) return <video className="preview" src={url} controls muted playsInline onError={() => setBroken(true)} />
  return <img className="preview" src={url} alt="Preview of your upload" onError={() => setBroken(true)} />
}
