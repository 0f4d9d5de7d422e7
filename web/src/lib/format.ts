const rtf = typeof Intl !== 'undefined' ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }) : null

export function timeAgo(iso: string, now = Date.now()): string {
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return ''
  const s = Math.round((t - now) / 1000)
  const abs = Math.abs(s)
  if (!rtf) return new Date(t).toLocaleString()
  // Past times only: a time a little ahead of this clock (the server's
  // clock runs ahead, or this page's clock has not ticked yet) is "just now".
  if (s > -45) return 'just now'
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute')
  if (abs < 86400) return rtf.format(Math.round(s / 3600), 'hour')
  if (abs < 86400 * 30) return rtf.format(Math.round(s / 86400), 'day')
  return new Date(t).toLocaleDateString()
}

export function fullTime(iso: string): string {
  const t = Date.parse(iso)
  return Number.isNaN(t) ? '' : new Date(t).toLocaleString()
}

export function countdown(ms: number): string {
  if (ms <= 0) return 'any moment now'
  const s = Math.floor(ms / 1000)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  const pad = (n: number) => String(n).padStart(2, '0')
  if (d > 0) return `${d}d ${pad(h)}h ${pad(m)}m`
  if (h > 0) return `${h}h ${pad(m)}m ${pad(sec)}s`
  return `${m}m ${pad(sec)}s`
}

export function num(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–'
  return n.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

export function compact(n: number): string {
  return Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 }).format(n)
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

export function plural(n: number, one: string, many = one + 's'): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`
}

// sentence shows a message from the server (which writes them in lower case,
// to be embedded) on its own: first letter capitalised.
export function sentence(s: string): string {
  const t = s.trimStart()
  if (!t) return t
  const first = String.fromCodePoint(t.codePointAt(0)!)
  return first.toLocaleUpperCase() + t.slice(first.length)
}

// parts joins the non-empty pieces of a line with " · ", so a missing piece
// leaves no dangling separator.
export function parts(...xs: (string | null | undefined | false)[]): string {
  return xs.filter((x): x is string => typeof x === 'string' && x.trim() !== '').join(' · ')
}
