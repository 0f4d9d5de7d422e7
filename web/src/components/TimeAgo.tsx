// A relative time ("7 minutes ago") that stays true: it re-renders on the
// shared 30-second clock (one timer for every time on the page).

import { useNow } from '../live/live'
import { fullTime, timeAgo } from '../lib/format'

export const TIME_AGO_MS = 30_000

export function TimeAgo({ iso, className }: { iso: string; className?: string }) {
  useNow(TIME_AGO_MS)
  // Date.now(), not the clock's last tick: a time heard between two ticks
  // must not read as ahead of the clock.
  return (
    <time className={className} dateTime={iso} title={fullTime(iso)}>
      {timeAgo(iso, Date.now())}
    </time>
  )
}
