import type { Post, PostStats } from '../api/types'
import { num, plural } from '../lib/format'

export function StatsLine({ stats }: { stats: PostStats }) {
  return (
    <span className="stats-line" data-testid="stats">
      {stats.count > 0 ? (
        <>
          <strong className="avg">{num(stats.average, 1)}</strong>
          <span aria-hidden="true"> 😂</span> avg · <span className="count">{plural(stats.count, 'rating')}</span>
        </>
      ) : (
        <span className="muted">no ratings yet</span>
      )}
    </span>
  )
}

// histogramHead: the big average and what it is the average of; a post
// nobody rated has no average to show (not a lone "–").
export function histogramHead(stats: Pick<PostStats, 'count' | 'average' | 'laughs'>, open: boolean): { avg: string | null; text: string } {
  if (!stats.count) return { avg: null, text: open ? 'No ratings yet. Be the first.' : 'Nobody rated it.' }
  return { avg: num(stats.average, 2), text: `average of ${plural(stats.count, 'rating')} · ${plural(stats.laughs, 'laugh')}` }
}

export function Histogram({ stats, open = true }: { stats: PostStats; open?: boolean }) {
  const max = Math.max(1, ...Object.values(stats.histogram))
  const head = histogramHead(stats, open)
  return (
    <div className="histogram" data-testid="histogram">
      {head.avg !== null ? (
        <div className="histogram-head">
          <span className="big-avg">{head.avg}</span>
          <span className="muted">{head.text}</span>
        </div>
      ) : (
        <p className="no-ratings muted">{head.text}</p>
      )}
      <table>
        <caption className="sr-only">Ratings by number of laughs</caption>
        <tbody>
          {(['5', '4', '3', '2', '1'] as const).map((k) => {
            const n = stats.histogram[k]
            return (
              <tr key={k}>
                <th scope="row">
                  {k} <span aria-hidden="true">😂</span>
                </th>
                <td className="bar-cell">
                  <span className="bar" style={{ width: `${(n / max) * 100}%` }} />
                </td>
                <td className="bar-n">{n}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

const RANK_LABEL: Record<string, string> = { hot: 'hot', top: 'top', top_day: 'today', top_week: 'this week' }

export function Ranks({ post }: { post: Post }) {
  const entries = Object.entries(post.ranks ?? {}).filter(([, v]) => typeof v === 'number')
  if (!entries.length) return null
  return (
    <ul className="ranks" aria-label="Ranks">
      {entries.map(([k, v]) => (
        <li key={k} className={`rank-badge${v <= 3 ? ' podium' : ''}`}>
          #{v} <span className="muted">{RANK_LABEL[k] ?? k}</span>
        </li>
      ))}
    </ul>
  )
}
