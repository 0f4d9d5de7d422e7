// The server's rules for posts (GET /api/v1/posts/rules): the largest file,
// the formats it takes (videos only where it has ffmpeg) and the lengths of
// captions, comments and tags. Read once and kept for the session; until
// the answer is in, or when the request fails, the defaults of a server
// with everything installed are used (the server has the last word anyway).

import { useEffect, useState } from 'react'
import { api } from './client'
import type { MediaFormat, PostRules } from './types'
import { bytes, num } from '../lib/format'

const ALL_FORMATS: MediaFormat[] = ['jpeg', 'png', 'gif', 'webp', 'mp4', 'webm']
const VIDEO_FORMATS: MediaFormat[] = ['mp4', 'webm']

// FALLBACK_RULES are the server's defaults (UPLOAD_MAX_BYTES, VIDEO_MAX_SECONDS…).
export const FALLBACK_RULES: PostRules = {
  max_bytes: 50 * 1024 * 1024,
  max_pixels: 40_000_000,
  max_gif_frames: 500,
  formats: [...ALL_FORMATS],
  videos: true,
  max_video_seconds: 60,
  max_caption_chars: 500,
  max_comment_chars: 1000,
  max_tags: 10,
  max_tag_chars: 30,
}

const MIME: Record<MediaFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  webm: 'video/webm',
}
const LABEL: Record<MediaFormat, string> = { jpeg: 'JPEG', png: 'PNG', gif: 'GIF', webp: 'WebP', mp4: 'MP4', webm: 'WebM' }

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)

// readRules reads an answer tolerantly: a field missing or malformed keeps
// its default, and without videos no video format is offered whatever the
// list says.
export function readRules(raw: unknown): PostRules {
  const o = isObj(raw) ? raw : {}
  const n = (k: keyof PostRules, min = 1): number => {
    const v = o[k]
    return typeof v === 'number' && Number.isFinite(v) && v >= min ? v : (FALLBACK_RULES[k] as number)
  }
  const videos = typeof o.videos === 'boolean' ? o.videos : FALLBACK_RULES.videos
  let formats = Array.isArray(o.formats) ? ALL_FORMATS.filter((f) => (o.formats as unknown[]).includes(f)) : [...FALLBACK_RULES.formats]
  if (!videos) formats = formats.filter((f) => !VIDEO_FORMATS.includes(f))
  return {
    max_bytes: n('max_bytes'),
    max_pixels: n('max_pixels'),
    max_gif_frames: n('max_gif_frames'),
    formats,
    videos,
    max_video_seconds: videos ? n('max_video_seconds') : 0,
    max_caption_chars: n('max_caption_chars'),
    max_comment_chars: n('max_comment_chars'),
    max_tags: n('max_tags', 0),
    max_tag_chars: n('max_tag_chars'),
  }
}

// A failed read is tried again after this long (not on every page).
const RETRY_MS = 60_000

let cached: PostRules | null = null
let pending: Promise<PostRules> | null = null
let failedAt = -Infinity

// postRules is what is known now: the server's rules once read, else the defaults.
export function postRules(): PostRules {
  return cached ?? FALLBACK_RULES
}

// loadPostRules reads the rules once per session; it never fails: without an
// answer it resolves to the defaults.
export function loadPostRules(): Promise<PostRules> {
  if (cached) return Promise.resolve(cached)
  if (pending) return pending
  if (Date.now() - failedAt < RETRY_MS) return Promise.resolve(FALLBACK_RULES)
  pending = api<unknown>('/posts/rules', { noRetry: true })
    .then(
      (raw) => (cached = readRules(raw)),
      () => {
        failedAt = Date.now()
        return FALLBACK_RULES
      },
    )
    .finally(() => {
      pending = null
    })
  return pending
}

// forgetPostRules drops what was read (for tests).
export function forgetPostRules(): void {
  cached = null
  pending = null
  failedAt = -Infinity
}

// usePostRules: the rules, the defaults until they are read.
export function usePostRules(): PostRules {
  const [rules, setRules] = useState(postRules)
  useEffect(() => {
    let on = true
    void loadPostRules().then((r) => {
      if (on) setRules(r)
    })
    return () => {
      on = false
    }
  }, [])
  return rules
}

// acceptList: the file input's `accept`, the MIME types of the formats taken.
export function acceptList(r: PostRules): string[] {
  return r.formats.map((f) => MIME[f])
}

function orList(xs: string[]): string {
  return xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`
}

function formatsText(r: PostRules): string {
  return orList(r.formats.map((f) => LABEL[f]))
}

function secondsText(s: number): string {
  if (s >= 120 && s % 60 === 0) return `${s / 60} min`
  return `${num(s, Number.isInteger(s) ? 0 : 1)} s`
}

// uploadHint: "JPEG, PNG, GIF, WebP, MP4 or WebM · up to 50.0 MB · videos up
// to 60 s" — or, on a server without videos, "… · no videos on this server".
export function uploadHint(r: PostRules): string {
  const video = r.videos ? `videos up to ${secondsText(r.max_video_seconds)}` : 'no videos on this server'
  return `${formatsText(r)} · up to ${bytes(r.max_bytes)} · ${video}`
}

// What the drop zone asks for: "an image, GIF or video", or without videos
// "an image or GIF".
export function mediaWords(r: PostRules): string {
  return r.videos ? 'an image, GIF or video' : 'an image or GIF'
}

function looksLikeVideo(f: { name: string; type: string }): boolean {
  if (f.type) return f.type.startsWith('video/')
  return /\.(mp4|m4v|webm|mov|mkv|avi|ogv|3gp)$/i.test(f.name)
}

// checkFile says what is wrong with a file before it is sent, or null. The
// type the browser reports is only a hint (the server sniffs the bytes), so
// a file without one goes through to the server.
export function checkFile(f: { name: string; type: string; size: number }, r: PostRules): string | null {
  if (!r.videos && looksLikeVideo(f)) return `${f.name} is a video, and this server does not take videos: post a picture or a GIF instead.`
  if (f.type && !acceptList(r).includes(f.type)) return `${f.name}: only ${formatsText(r)} files can be posted.`
  if (f.size > r.max_bytes) return `${f.name} is ${bytes(f.size)}; the limit is ${bytes(r.max_bytes)}.`
  if (f.size === 0) return `${f.name} is empty.`
  return null
}

// tagsProblem: the tags as typed break a rule the client can check (how
// many, how long), or null; the server explains anything else.
export function tagsProblem(tags: string[], r: PostRules): string | null {
  if (tags.length > r.max_tags) return `at most ${r.max_tags} tags, please (you have ${tags.length})`
  const long = tags.find((t) => Array.from(t).length > r.max_tag_chars)
  if (long) return `#${long} is too long: a tag has at most ${r.max_tag_chars} characters`
  return null
}
