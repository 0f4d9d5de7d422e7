// The danger zone: countdown to the next cull, the posts that would go if it
// ran now and how far each is from safety, and past culls.
// GET /api/v1/cull is read tolerantly (its exact shape is the cull issue's).

import { useCallback, useEffect, useRef, useState } from 'react'
import { Link, useParams } from 'react-router'
import { api, ApiError, errorMessage, qs } from '../api/client'
import type { Post } from '../api/types'
import { getPost, liveMark, putPosts, updatePost, usePost } from '../lib/postStore'
import { useChannel, useNow, usePollWhenNotLive, usePostChannels, useRetryOnReconnect } from '../live/live'
import type { LiveEvent } from '../live/LiveClient'
import { applyPostEvent } from '../live/merge'
import { Jittered, Reread } from '../live/postWatch'
import { Thumb } from '../components/Media'
import { LaughRating } from '../components/PostActions'
import { countdown, fullTime, num, parts, plural } from '../lib/format'
import { ratingsText, safetyText } from '../lib/cull'
import { TimeAgo } from '../components/TimeAgo'
import { useDocumentTitle } from '../lib/hooks'
import { Spinner } from './Feed'
import { useAuth } from '../auth/auth'

type Obj = Record<string, unknown>
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x)
const pick = (o: Obj, ...keys: string[]): unknown => {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k]
  return undefined
}

export interface AtRisk {
  key: string
  post?: Post
  postId?: string
  rank?: number
  score?: number
  distance?: number
  places?: number
}
export interface Run {
  id: string
  cycle?: number
  at?: string
  victims?: number
  eligible?: number
  raw: Obj
}
export interface CullView {
  nextAt: string | null
  cycle?: number
  settings: Obj
  // The rows read so far (the zone is paged, best-ranked first: the post
  // nearest safety first, the first to go last), and how many posts the
  // zone holds in all.
  atRisk: AtRisk[]
  atRiskCount: number
  // The cursor of the zone's next page, or null when every post is listed.
  nextCursor: string | null
  eligible?: number
  ready?: number
  runs: Run[]
}

function asPost(x: unknown): Post | undefined {
  return isObj(x) && isObj(x.author) && x.id !== undefined ? (x as unknown as Post) : undefined
}

// readRisk reads a list of endangered posts or victims: an array, or a page
// {items, next_cursor}.
export function readRisk(list: unknown): AtRisk[] {
  if (isObj(list) && Array.isArray(list.items)) list = list.items
  if (!Array.isArray(list)) return []
  return list.map((x, i) => {
    const o = isObj(x) ? x : {}
    const post = asPost(o.post) ?? asPost(o)
    const postId = String(pick(o, 'post_id') ?? post?.id ?? '')
    return {
      key: postId || String(i),
      post,
      postId: postId || undefined,
      rank: pick(o, 'rank') as number | undefined,
      score: pick(o, 'score') as number | undefined,
      distance: pick(o, 'distance', 'distance_from_safety', 'margin', 'gap') as number | undefined,
      places: pick(o, 'places') as number | undefined,
    }
  })
}

export function readCull(raw: unknown): CullView {
  const o = isObj(raw) ? raw : {}
  const next = pick(o, 'next_cull_at', 'next_run_at', 'next_at', 'next_cull', 'next')
  const nextAt = typeof next === 'string' ? next : isObj(next) ? ((pick(next, 'at', 'run_at') as string) ?? null) : null
  const runsRaw = pick(o, 'runs', 'recent_runs', 'recent', 'past')
  const runs: Run[] = Array.isArray(runsRaw)
    ? runsRaw.filter(isObj).map((r) => {
        const v = pick(r, 'victim_count', 'victims', 'culled')
        return {
          id: String(pick(r, 'id', 'run_id', 'cycle') ?? ''),
          cycle: pick(r, 'cycle') as number | undefined,
          at: pick(r, 'started_at', 'at', 'ran_at', 'finished_at', 'created_at') as string | undefined,
          victims: Array.isArray(v) ? v.length : (v as number | undefined),
          eligible: pick(r, 'eligible', 'eligible_count') as number | undefined,
          raw: r,
        }
      })
    : []
  const dangerRaw = pick(o, 'danger', 'at_risk', 'danger_zone', 'posts', 'candidates', 'items')
  const atRisk = readRisk(dangerRaw)
  return {
    nextAt,
    cycle: pick(o, 'cycle') as number | undefined,
    settings: isObj(o.settings) ? o.settings : {},
    atRisk,
    atRiskCount:
      isObj(dangerRaw) && typeof dangerRaw.count === 'number' ? dangerRaw.count : typeof o.count === 'number' ? o.count : atRisk.length,
    nextCursor: isObj(dangerRaw) && typeof dangerRaw.next_cursor === 'string' && dangerRaw.next_cursor ? dangerRaw.next_cursor : null,
    eligible: pick(o, 'eligible') as number | undefined,
    ready: pick(o, 'ready') as number | undefined,
    runs,
  }
}

// The danger zone is paged best-ranked first (the post nearest safety
// first, the first to go last) with `cursor` and `limit`; the API has no
// parameter for the other order. The page shows the first ZONE_PAGE rows
// (the page every viewer reads, which the server shares among anonymous
// viewers), and "Show more" reads on with the cursor, ZONE_MORE at a time.
export const ZONE_PAGE = 20
export const ZONE_MORE = 50
const ZONE_MAX_LIMIT = 100 // the API's most per page

// joinZone adds a later page of the zone to the rows read so far. The zone
// may have moved between the two reads, so a post already listed is not
// listed twice; everything else (the count, the cursor, the countdown, the
// runs) is the later page's, the newer news. Once the last page is read
// the list holds no more rows than the zone has posts.
export function joinZone(view: CullView, more: CullView): CullView {
  const seen = new Set(view.atRisk.map((r) => r.key))
  let atRisk = [...view.atRisk, ...more.atRisk.filter((r) => !seen.has(r.key))]
  if (more.nextCursor === null && atRisk.length > more.atRiskCount) atRisk = atRisk.slice(0, more.atRiskCount)
  return { ...more, atRisk }
}

// zoneMoved says whether a later page was read from another zone than the
// rows the page holds: another cycle, or another number of posts. The rows
// read before it are then stale: read them all again.
export function zoneMoved(view: CullView, more: CullView): boolean {
  return view.cycle !== more.cycle || view.atRiskCount !== more.atRiskCount
}

// readZone reads GET /api/v1/cull with the first `want` rows of the zone
// (at least one page): up to 100 in one read (one snapshot of the zone),
// then page by page with the cursor.
export async function readZone(get: (path: string) => Promise<unknown>, want: number): Promise<CullView> {
  const first = Math.min(Math.max(want, ZONE_PAGE), ZONE_MAX_LIMIT)
  let view = readCull(await get('/cull' + qs({ limit: first > ZONE_PAGE ? first : undefined })))
  while (view.nextCursor !== null && view.atRisk.length < want) {
    const more = readCull(await get('/cull' + qs({ cursor: view.nextCursor, limit: Math.min(ZONE_MAX_LIMIT, want - view.atRisk.length) })))
    const had = view.atRisk.length
    view = joinZone(view, more)
    if (view.atRisk.length === had) break // nothing new: the zone moved under the cursor
  }
  return view
}

// zoneShown: "Showing 20 of 24 (nearest to safety first)".
export function zoneShown(view: Pick<CullView, 'atRisk' | 'atRiskCount' | 'nextCursor'>): string | null {
  const n = view.atRisk.length
  if (view.nextCursor === null && n >= view.atRiskCount) return null
  const total = Math.max(view.atRiskCount, n)
  const left = total - n
  return `Showing ${num(n)} of ${num(total)}, nearest to safety first: ${left === 1 ? 'the one not shown yet goes' : left > 1 ? `the ${num(left)} not shown yet go` : 'those not shown yet go'} first.`
}

// zoneMoreLabel: "Show 4 more".
export function zoneMoreLabel(view: Pick<CullView, 'atRisk' | 'atRiskCount'>): string {
  const left = view.atRiskCount - view.atRisk.length
  return left > 0 ? `Show ${num(Math.min(left, ZONE_MORE))} more` : 'Show more'
}

const SETTING_LABEL: Record<string, string> = {
  interval_seconds: 'every',
  grace_seconds: 'grace period',
  share: 'culls at most',
  max: 'at most',
  floor: 'never below',
  board: 'ranked by',
}

function duration(s: number): string {
  if (s === 0) return 'none'
  if (s % 86400 === 0) return `${s / 86400} d`
  if (s % 3600 === 0) return `${s / 3600} h`
  if (s % 60 === 0) return `${s / 60} min`
  return `${s} s`
}

function describeSetting(k: string, v: unknown): string | null {
  if (k === 'max' && v === 0) return null // no cap
  if (typeof v === 'number' && /share|fraction|ratio/.test(k)) return `${num(v * 100, v * 100 < 10 ? 1 : 0)} % of eligible posts`
  if (typeof v === 'number' && /seconds/.test(k)) return duration(v)
  if (k === 'floor') return typeof v === 'number' ? plural(v, 'post') : String(v)
  if (k === 'board') return v === 'top' ? 'top score' : String(v) + ' score'
  if (isObj(v) || Array.isArray(v)) return JSON.stringify(v)
  return String(v)
}

// zoneMayHaveChanged says whether a message of a listed post's channel
// (post:<id>) may have changed the zone: a rating (stats), a post culled or
// removed (status), or a snapshot — after a reconnection — with newer stats
// than the copy the page holds (`held`).
export function zoneMayHaveChanged(ev: LiveEvent, held: Post | undefined): boolean {
  if (ev.type === 'stats' || ev.type === 'status') return true
  if (ev.type !== 'snapshot' || !isObj(ev.data)) return false
  const p = isObj(ev.data.post) ? ev.data.post : ev.data
  const v = p.stats_version
  return typeof v === 'number' && typeof held?.stats_version === 'number' && v > held.stats_version
}

// heardRiskPost takes a message of a listed post's channel: the post's
// copy takes it (the row shows the new ratings at once), and the zone is
// read again (within a few seconds, see zoneReread) when it may have
// changed.
export function heardRiskPost(id: string, ev: LiveEvent, reread: Pick<Reread, 'request'>): void {
  if (ev.type === 'resync' || ev.type === 'error') return
  if (zoneMayHaveChanged(ev, getPost(id))) reread.request()
  updatePost(id, (p) => applyPostEvent(p, ev).post)
}

// How the page re-reads GET /api/v1/cull, an expensive read (signed-in
// viewers pass the server's page cache). A rating of a listed post reaches
// every viewer at once: each waits 3 s plus a jitter of up to 2 s of its own
// (viewers spread out), a burst makes one read, one read at a time, and
// none within 5 s of a read for the danger channel's own "changed" (which
// says again within a tick if the rating moved the zone). The rows show
// the new ratings at once anyway (heardRiskPost).
const ZONE_REREAD = { delayMs: 3000, jitterMs: 2000, freshMs: 5000, againMs: 500 }

export function zoneReread(read: () => Promise<unknown>, random: () => number = Math.random): Reread {
  return new Reread(read, { ...ZONE_REREAD, random })
}

// The ids of the posts the page lists (the first page of the zone).
export function riskIds(view: CullView | null): string[] {
  return view ? view.atRisk.flatMap((r) => ((r.post?.id ?? r.postId) ? [String(r.post?.id ?? r.postId)] : [])) : []
}

// sameZone reports whether a live summary of the zone (the first posts)
// agrees with the page: same cycle, same count, same posts in front.
function sameZone(page: CullView, live: CullView): boolean {
  if (page.cycle !== live.cycle || page.atRiskCount !== live.atRiskCount) return false
  return live.atRisk.every((r, i) => page.atRisk[i] !== undefined && page.atRisk[i].postId === r.postId && page.atRisk[i].rank === r.rank)
}

// How the page answers the danger channel's "changed" (and a snapshot that
// disagrees with the page): every viewer hears it at the same moment — after
// a cull, all of them — so each reads GET /api/v1/cull after a random wait
// of its own, 0.25 to 3 s, and the messages heard meanwhile make that one
// read.
export const DANGER_CHANGED = { minMs: 250, maxMs: 3000 }

export function dangerChanged(reread: Pick<Reread, 'now'>, random: () => number = Math.random): Jittered {
  return new Jittered(() => reread.now({ fresh: true }), { ...DANGER_CHANGED, random })
}

// Once the countdown ends the page looks again until the server has run the
// cull and names the next one: every 3 to 6 s, each viewer on a rhythm of
// its own (the countdown ends at the same moment for everyone).
const OVERDUE = { minMs: 3000, maxMs: 6000 }

export default function Danger() {
  useDocumentTitle('Danger zone')
  const [view, setView] = useState<CullView | null>(null)
  const [state, setState] = useState<'loading' | 'ok' | 'absent' | 'error'>('loading')
  const [error, setError] = useState<string | null>(null)
  const now = useNow(1000)
  // How many rows of the zone the viewer asked to see (a page, and what
  // "Show more" added): every read of the zone reads that many again.
  const want = useRef(ZONE_PAGE)
  const [more, setMore] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null })

  const load = useCallback(async () => {
    try {
      const since = liveMark()
      const wanted = want.current
      const v = await readZone((path) => api<unknown>(path), wanted)
      putPosts(v.atRisk.flatMap((r) => (r.post ? [r.post] : [])), since)
      setView(v)
      setError(null)
      setState('ok')
      // "Show more" was pressed while this read was on its way: read the
      // rows it asked for too (the read is in flight: this is one more).
      if (want.current > wanted && v.nextCursor !== null) reread.now()
    } catch (e) {
      // 503: this node has no cull configured.
      const absent = e instanceof ApiError && (e.status === 404 || e.status === 405 || e.status === 503)
      setError(errorMessage(e))
      // A page already shown stays (with a note): a failed reload — the
      // countdown's polling, a server restarting — is passing.
      setState((st) => (st === 'ok' ? 'ok' : absent ? 'absent' : 'error'))
    }
  }, [])
  // Every read of GET /cull goes through reread: one at a time, and a burst
  // of ratings makes one read (after a few seconds), not one per rating.
  const [reread] = useState(() => zoneReread(load))
  const [changed] = useState(() => dangerChanged(reread))
  useEffect(() => {
    reread.start()
    return () => {
      reread.stop()
      changed.stop()
    }
  }, [reread, changed])
  const { ready, me } = useAuth()
  useEffect(() => {
    if (ready) reread.now()
  }, [reread, ready, me?.id])

  // showMore reads the zone's next page with its cursor. Should the zone
  // have moved since the rows shown were read (another count, a cull), the
  // rows are read again, as many as are now wanted.
  const showMore = async () => {
    if (!view || view.nextCursor === null || more.busy) return
    const from = view
    want.current = Math.max(want.current, from.atRisk.length + ZONE_MORE)
    setMore({ busy: true, error: null })
    try {
      const since = liveMark()
      const page = readCull(await api<unknown>('/cull' + qs({ cursor: from.nextCursor, limit: ZONE_MORE })))
      putPosts(page.atRisk.flatMap((r) => (r.post ? [r.post] : [])), since)
      // A read of the whole zone may have replaced the rows meanwhile: add
      // the page only to the rows it follows.
      setView((cur) => (cur === from ? joinZone(from, page) : cur))
      if (zoneMoved(from, page)) reread.now()
      setMore({ busy: false, error: null })
    } catch (e) {
      setMore({ busy: false, error: errorMessage(e) })
    }
  }

  useChannel(state === 'ok' ? 'danger' : null, (ev) => {
    if (ev.type === 'error' || ev.type === 'resync') return
    // The snapshot is a summary (the first posts' ids, no settings or past
    // runs): when it says what the page shows already, nothing to do; else,
    // like "changed", read GET /api/v1/cull again.
    if (ev.type === 'snapshot' && isObj(ev.data) && view && sameZone(view, readCull(ev.data))) return
    changed.fire()
  })
  // The danger channel speaks at most once a tick (or after a cull): the
  // listed posts' own channels say at once when someone rates one of them.
  // Their stats show in the rows straight away, and the zone (ranks, the
  // distance from safety, who is in it) is read again a few seconds later
  // (see zoneReread).
  usePostChannels(state === 'ok' ? riskIds(view) : [], (id, ev) => heardRiskPost(id, ev, reread))
  usePollWhenNotLive(() => reread.now(), state === 'ok')
  // A page that could not be read, or could not be refreshed, is read again
  // once the connection is back.
  useRetryOnReconnect(() => reread.now(), state === 'error' || error !== null)

  // Once the countdown ends, look again every few seconds until the server
  // has run the cull and names the next one.
  const overdue = !!view?.nextAt && Date.parse(view.nextAt) - now <= 0
  useEffect(() => {
    if (!overdue) return
    const look = new Jittered(() => {
      reread.now()
      look.fire()
    }, OVERDUE)
    look.fire()
    return () => look.stop()
  }, [overdue, reread])

  if (state === 'loading') return <Spinner />
  if (state === 'absent')
    return (
      <div className="danger-page">
        <h1>Danger zone</h1>
        <div className="card empty placeholder">
          <p className="big-emoji" aria-hidden="true">⏳</p>
          <p>
            <strong>The cull has not started yet.</strong>
          </p>
          <p className="muted">
            Once it does, this page counts down to the next cull, shows the posts that would be deleted if it ran now — and how many laughs would
            save them — and keeps a record of past culls.
          </p>
          <p>
            Meanwhile, <Link to="/?tab=new">rate the newest posts</Link>: every rating decides who survives.
          </p>
        </div>
      </div>
    )
  if (state === 'error' || !view)
    return (
      <div className="error-box" role="alert">
        {error}{' '}
        <button className="btn btn-small" onClick={() => reread.now()}>
          Try again
        </button>
      </div>
    )

  return (
    <div className="danger-page">
      <h1>Danger zone</h1>
      {error && (
        <p className="muted" role="status">
          Could not refresh: {error}. Showing what was read last; it will try again.
        </p>
      )}
      <section className="card countdown-card" aria-live="off">
        <p className="muted">Next cull in</p>
        <p className="countdown" data-testid="countdown">
          {view.nextAt ? countdown(Date.parse(view.nextAt) - now) : 'not scheduled'}
        </p>
        {view.nextAt && <p className="muted">{fullTime(view.nextAt)}</p>}
        {Object.keys(view.settings).length > 0 && (
          <dl className="settings">
            {Object.entries(view.settings).map(([k, v]) => {
              const text = describeSetting(k, v)
              if (text === null) return null
              return (
                <div key={k}>
                  <dt>{SETTING_LABEL[k] ?? k.replace(/_/g, ' ')}</dt>
                  <dd>{text}</dd>
                </div>
              )
            })}
          </dl>
        )}
      </section>

      <section className="card" aria-labelledby="risk-h">
        <h2 id="risk-h">At risk now ({view.atRiskCount})</h2>
        {view.atRisk.length === 0 ? (
          <p className="muted">Nobody is in danger right now. Enjoy it while it lasts.</p>
        ) : (
          <>
            <p className="muted">
              If the cull ran now, {view.atRiskCount === 1 ? 'this one would go' : 'these would go'}
              {view.eligible !== undefined && <> (of {plural(view.eligible, 'post')} old enough to be culled)</>}. Rate the ones you want to keep.
            </p>
            <ol className="risk-list">
              {view.atRisk.map((r) => (
                <RiskRow key={r.key} r={r} />
              ))}
            </ol>
            <MoreRows shown={zoneShown(view)} label={view.nextCursor !== null ? zoneMoreLabel(view) : null} busy={more.busy} error={more.error} onMore={() => void showMore()} />
          </>
        )}
      </section>

      <section className="card" aria-labelledby="runs-h">
        <h2 id="runs-h">Past culls</h2>
        {view.runs.length === 0 ? (
          <p className="muted">No cull has run yet.</p>
        ) : (
          <ul className="runs">
            {view.runs.map((run) => (
              <li key={run.id}>
                <Link to={`/danger/runs/${run.id}`}>Cull #{run.id}</Link>
                {run.at && (
                  <>
                    {' · '}
                    <TimeAgo className="muted" iso={run.at} />
                  </>
                )}
                {' · '}
                {run.victims ? <strong>{run.victims} culled</strong> : 'nobody culled'}
                {run.eligible !== undefined && <> of {run.eligible} eligible</>}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  )
}

// MoreRows: below a paged list, how much of it is shown and a button that
// reads the next page.
function MoreRows({ shown, label, busy, error, onMore }: { shown: string | null; label: string | null; busy: boolean; error: string | null; onMore: () => void }) {
  if (!shown && !label && !error) return null
  return (
    <div className="more-rows">
      {shown && (
        <p className="muted small" role="status">
          {shown}
        </p>
      )}
      {error && (
        <p className="field-error" role="alert">
          Could not load more: {error}
        </p>
      )}
      {label && (
        <button className="btn btn-small" onClick={onMore} disabled={busy} aria-busy={busy}>
          {busy ? 'Loading…' : label}
        </button>
      )}
    </div>
  )
}

// riskLine: "rank 7 · 1 rating, avg 3.0 · needs to overtake 1 post (…)".
export function riskLine(r: AtRisk, post: Post | undefined): string {
  const safety = safetyText(r)
  return parts(r.rank !== undefined ? `rank ${r.rank}` : null, post ? ratingsText(post.stats) : null, safety)
}

function RiskRow({ r }: { r: AtRisk }) {
  const post = usePost(r.post?.id ?? r.postId ?? '') ?? r.post
  return (
    <li className="risk-row">
      {post ? <Thumb post={post} size={48} /> : <span className="thumb" />}
      <div className="risk-main">
        <Link to={`/p/${post?.id ?? r.postId}`}>{post?.caption || `Post ${post?.id ?? r.postId}`}</Link>
        <div className="muted small">{riskLine(r, post)}</div>
      </div>
      {post && post.status === 'ready' && <LaughRating post={post} compact />}
    </li>
  )
}

// A recorded run and the victims read so far: GET /api/v1/cull/runs/{id}
// gives one page of them (best-ranked first) with a cursor; victim_count
// says how many there were in all.
export interface RunPage {
  run: Obj
  victims: AtRisk[]
  // How many posts the run culled (victim_count), if the answer says.
  count?: number
  next: string | null
}

export function readRunPage(raw: unknown): RunPage {
  const run = isObj(raw) ? raw : {}
  const list = pick(run, 'victims', 'posts', 'items')
  const next = isObj(list) && typeof list.next_cursor === 'string' && list.next_cursor ? list.next_cursor : null
  const v = pick(run, 'victim_count')
  return { run, victims: readRisk(list), count: typeof v === 'number' ? v : undefined, next }
}

// joinRunPage adds the next page of victims (a run does not change: the
// pages follow one another; a victim already listed is not listed twice).
export function joinRunPage(page: RunPage, more: RunPage): RunPage {
  const seen = new Set(page.victims.map((r) => r.key))
  return { ...page, victims: [...page.victims, ...more.victims.filter((r) => !seen.has(r.key))], count: more.count ?? page.count, next: more.next }
}

// runShown: "Showing 20 of 26" while victims are left to load.
export function runShown(page: RunPage): string | null {
  const n = page.victims.length
  if (page.next === null || page.count === undefined || n >= page.count) return null
  return `Showing ${num(n)} of ${num(page.count)}, best-ranked first.`
}

const RUN_MORE = 50

export function CullRun() {
  const { id = '' } = useParams()
  useDocumentTitle(`Cull ${id}`)
  const [page, setPage] = useState<RunPage | null>(null)
  const [err, setErr] = useState<string | null>(null)
  const [more, setMore] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null })
  // The run shown: an answer for another run (the page moved on) is dropped.
  const shownId = useRef(id)
  useEffect(() => {
    shownId.current = id
    setPage(null)
    setErr(null)
    setMore({ busy: false, error: null })
    api<unknown>(`/cull/runs/${encodeURIComponent(id)}`)
      .then((raw) => {
        if (shownId.current !== id) return
        const p = readRunPage(raw)
        putPosts(p.victims.flatMap((x) => (x.post ? [x.post] : [])))
        setPage(p)
      })
      .catch((e) => {
        if (shownId.current === id) setErr(errorMessage(e))
      })
  }, [id])
  const showMore = async () => {
    if (!page || page.next === null || more.busy) return
    const from = page
    setMore({ busy: true, error: null })
    try {
      const p = readRunPage(await api<unknown>(`/cull/runs/${encodeURIComponent(id)}` + qs({ cursor: from.next, limit: RUN_MORE })))
      if (shownId.current !== id) return
      putPosts(p.victims.flatMap((x) => (x.post ? [x.post] : [])))
      setPage((cur) => (cur === from ? joinRunPage(from, p) : cur))
      setMore({ busy: false, error: null })
    } catch (e) {
      if (shownId.current === id) setMore({ busy: false, error: errorMessage(e) })
    }
  }
  if (err) return <div className="error-box" role="alert">{err}</div>
  if (!page) return <Spinner />
  const { run, victims } = page
  const at = pick(run, 'started_at', 'at', 'ran_at', 'finished_at', 'created_at') as string | undefined
  const eligible = pick(run, 'eligible') as number | undefined
  const count = page.count ?? victims.length
  const left = count - victims.length
  return (
    <div className="danger-page">
      <p>
        <Link to="/danger">← Danger zone</Link>
      </p>
      <h1>Cull #{id}</h1>
      {(at || eligible !== undefined) && (
        <p className="muted">
          {parts(at ? fullTime(at) : null, eligible !== undefined ? `${plural(eligible, 'post')} ${eligible === 1 ? 'was' : 'were'} eligible` : null)}
        </p>
      )}
      <section className="card" aria-labelledby="victims-h">
        <h2 id="victims-h">Culled ({num(count)})</h2>
        {count === 0 ? (
          <p className="muted">Nobody was culled in this run.</p>
        ) : (
          <ol className="risk-list">
            {victims.map((v) => (
              <RiskRow key={v.key} r={v} />
            ))}
          </ol>
        )}
        <MoreRows
          shown={runShown(page)}
          label={page.next !== null ? (left > 0 ? `Show ${num(Math.min(left, RUN_MORE))} more` : 'Show more') : null}
          busy={more.busy}
          error={more.error}
          onMore={() => void showMore()}
        />
      </section>
    </div>
  )
}
