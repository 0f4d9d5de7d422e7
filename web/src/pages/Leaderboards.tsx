// The leaderboards: hot, top by window, per tag, creators. Live: board
// messages refetch the board (after a random wait, see boardChanged), and
// rows glide to their new place.

import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent } from 'react'
import { Link, useSearchParams } from 'react-router'
import { api, errorMessage, qs } from '../api/client'
import type { BoardItem, Page } from '../api/types'
import { liveMark, putPosts } from '../lib/postStore'
import { useChannel, usePollWhenNotLive } from '../live/live'
import { Jittered } from '../live/postWatch'
import { Thumb } from '../components/Media'
import { Avatar } from '../components/Avatar'
import { num, compact } from '../lib/format'
import { useDocumentTitle, usePrefersReducedMotion } from '../lib/hooks'
import { Spinner } from './Feed'
import { MoveMarks, type MoveDir } from '../lib/moveMarks'
import { normalizeTag, tagBoardChannel } from '../lib/tags'

type Board = 'hot' | 'top' | 'creators' | 'tag'
const BOARDS: [Board, string][] = [
  ['hot', 'Hot'],
  ['top', 'Top'],
  ['creators', 'Creators'],
  ['tag', 'By tag'],
]

// boardChannel names the live channel of a board (docs/realtime.md).
// Channels: board:hot, board:new, board:creators, board:top:all|day|week,
// board:tag:<name>:top|hot. The server sends a tag board's messages under
// its canonical name, the tag normalised as the REST API does it: the name
// subscribed to must be that one, or they reach no listener.
export function boardChannel(board: Board, win: string, tag: string, sort: string): string | null {
  if (board === 'tag') return tagBoardChannel(tag, sort)
  if (board === 'top') return `board:top:${win}`
  return `board:${board}`
}

// How the page answers a message of its board's channel: every viewer of the
// board hears it at the same moment, so each reads the board again after a
// random wait of its own, 0.25 to 3 s, and the messages heard meanwhile make
// that one read.
export const BOARD_CHANGED = { minMs: 250, maxMs: 3000 }

export function boardChanged(read: () => void, random: () => number = Math.random): Jittered {
  return new Jittered(read, { ...BOARD_CHANGED, random })
}

export default function Leaderboards() {
  const [params, setParams] = useSearchParams()
  const board = (['hot', 'top', 'creators', 'tag'].includes(params.get('board') ?? '') ? params.get('board') : 'hot') as Board
  const win = (['day', 'week', 'all'].includes(params.get('window') ?? '') ? params.get('window') : 'all') as string
  const tag = normalizeTag(params.get('tag') ?? '')
  const sort = params.get('sort') === 'hot' ? 'hot' : 'top'
  useDocumentTitle('Leaderboards')

  const [items, setItems] = useState<BoardItem[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const gen = useRef(0)

  const load = useCallback(async () => {
    if (board === 'tag' && !tag) {
      setItems([])
      return
    }
    const g = ++gen.current
    try {
      const name = board === 'tag' ? `tag:${tag}` : board
      const since = liveMark()
      const page = await api<Page<BoardItem>>(`/leaderboards/${encodeURIComponent(name)}` + qs({ window: board === 'top' ? win : undefined, sort: board === 'tag' ? sort : undefined, limit: 50 }))
      if (g !== gen.current) return
      putPosts(page.items.flatMap((i) => (i.post ? [i.post] : [])), since)
      setItems(page.items)
      setError(null)
    } catch (e) {
      if (g === gen.current) setError(errorMessage(e))
    }
  }, [board, win, tag, sort])

  useEffect(() => {
    setItems(null)
    void load()
  }, [load])

  // One per board shown: a read still waiting for another board is dropped.
  const changed = useMemo(() => boardChanged(() => void load()), [load])
  useEffect(() => () => changed.stop(), [changed])
  useChannel(boardChannel(board, win, tag, sort), (ev) => {
    if (ev.type === 'error') return
    changed.fire()
  })
  usePollWhenNotLive(() => void load())

  const set = (k: string, v: string | null) => {
    const p = new URLSearchParams(params)
    if (v === null) p.delete(k)
    else p.set(k, v)
    setParams(p)
  }
  const [tagInput, setTagInput] = useState(tag)
  useEffect(() => setTagInput(tag), [tag])

  return (
    <div className="boards">
      <h1>Leaderboards</h1>
      <nav className="tabs" aria-label="Boards">
        {BOARDS.map(([b, label]) => (
          <button key={b} type="button" className={`tab${b === board ? ' active' : ''}`} aria-current={b === board ? 'page' : undefined} onClick={() => set('board', b)}>
            {label}
          </button>
        ))}
      </nav>
      {board === 'top' && (
        <div className="subtabs" role="group" aria-label="Time window">
          {(
            [
              ['day', 'Today'],
              ['week', 'This week'],
              ['all', 'All time'],
            ] as const
          ).map(([w, label]) => (
            <button key={w} className={`chip${w === win ? ' active' : ''}`} aria-pressed={w === win} onClick={() => set('window', w)}>
              {label}
            </button>
          ))}
        </div>
      )}
      {board === 'tag' && (
        <form
          className="tag-filter"
          onSubmit={(e: FormEvent) => {
            e.preventDefault()
            set('tag', normalizeTag(tagInput) || null)
          }}
        >
          <label htmlFor="board-tag" className="sr-only">
            Tag
          </label>
          <input id="board-tag" type="search" placeholder="#tag" value={tagInput} onChange={(e) => setTagInput(e.target.value)} />
          <button className="btn btn-small">Show</button>
          <div className="subtabs" role="group" aria-label="Order">
            {(['top', 'hot'] as const).map((s) => (
              <button type="button" key={s} className={`chip${s === sort ? ' active' : ''}`} aria-pressed={s === sort} onClick={() => set('sort', s)}>
                {s === 'top' ? 'Top' : 'Hot'}
              </button>
            ))}
          </div>
        </form>
      )}
      <p className="muted board-help">{HELP[board]}</p>
      {error && (
        <div className="error-box" role="alert">
          {error}
        </div>
      )}
      {items === null ? (
        <Spinner />
      ) : items.length === 0 ? (
        <div className="card empty">{board === 'tag' && !tag ? 'Pick a tag to see its board.' : 'Nobody on this board yet.'}</div>
      ) : (
        <BoardTable items={items} creators={board === 'creators'} scoreLabel={board === 'hot' || sort === 'hot' && board === 'tag' ? 'hot' : board === 'creators' ? 'laughs' : 'score'} />
      )}
    </div>
  )
}

const HELP: Record<Board, string> = {
  hot: 'Net laughs, with newer posts winning ties — what is funny right now.',
  top: 'The best-rated posts, where many good ratings beat a few lucky ones.',
  creators: 'People by the laughs their posts received.',
  tag: 'The best posts with one tag.',
}

function BoardTable({ items, creators, scoreLabel }: { items: BoardItem[]; creators: boolean; scoreLabel: string }) {
  const list = useRef<HTMLOListElement>(null)
  const keys = items.map((i) => (creators ? 'c' + i.creator?.id : 'p' + i.post?.id))
  const moved = useFlip(list, keys)
  return (
    <ol className="board" ref={list} data-testid="board">
      {items.map((it, idx) => {
        const key = keys[idx]!
        const dir = moved.get(key)
        return (
          <li key={key} data-key={key} className={`board-row${dir ? ' moved-' + dir : ''}`}>
            <span className={`board-rank${it.rank <= 3 ? ' podium' : ''}`} aria-label={`rank ${it.rank}`}>
              {it.rank <= 3 ? ['🥇', '🥈', '🥉'][it.rank - 1] : it.rank}
            </span>
            {creators && it.creator ? (
              <>
                <Avatar name={it.creator.display_name || it.creator.username} url={it.creator.photo_url} size={40} />
                <Link to={`/u/${it.creator.username}`} className="board-title">
                  {it.creator.display_name} <span className="muted">@{it.creator.username}</span>
                </Link>
                <span className="board-score">
                  {compact(it.creator.laughs)} <span className="muted">laughs</span>
                </span>
              </>
            ) : it.post ? (
              <>
                <Thumb post={it.post} size={44} />
                <Link to={`/p/${it.post.id}`} className="board-title">
                  <span className="board-caption">{it.post.caption || `${it.post.kind} #${it.post.id}`}</span>
                  <span className="muted"> by @{it.post.author.username}</span>
                </Link>
                <span className="board-score" title={`${scoreLabel} score ${it.score}`}>
                  {it.post.stats.count ? num(it.post.stats.average, 1) : '–'} <span aria-hidden="true">😂</span>
                  <span className="muted"> · {it.post.stats.count}</span>
                </span>
              </>
            ) : null}
            {dir && <span className="sr-only">{dir === 'up' ? 'moved up' : 'moved down'}</span>}
          </li>
        )
      })}
    </ol>
  )
}

// useFlip animates list rows from their old place to the new one (First,
// Last, Invert, Play) and says which rows moved up or down.
function useFlip(list: React.RefObject<HTMLElement | null>, keys: string[]): Map<string, MoveDir> {
  const pos = useRef(new Map<string, number>())
  const [moved, setMoved] = useState(new Map<string, MoveDir>())
  const marks = useRef<MoveMarks | null>(null)
  marks.current ??= new MoveMarks(setMoved)
  const reduced = usePrefersReducedMotion()
  const sig = keys.join(',')
  useEffect(() => () => marks.current?.dispose(), [])
  useLayoutEffect(() => {
    const el = list.current
    if (!el) return
    const next = new Map<string, number>()
    const rows = Array.from(el.children) as HTMLElement[]
    rows.forEach((row) => {
      const k = row.dataset.key!
      const top = row.offsetTop
      next.set(k, top)
      const before = pos.current.get(k)
      if (before !== undefined && before !== top && !reduced) {
        row.style.transition = 'none'
        row.style.transform = `translateY(${before - top}px)`
        requestAnimationFrame(() => {
          row.style.transition = 'transform 450ms cubic-bezier(.2,.8,.2,1)'
          row.style.transform = ''
        })
      }
    })
    pos.current = next
    marks.current!.update(keys)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [sig])
  return moved
}
