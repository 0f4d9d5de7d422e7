// The posts this tab has reported, for its session (sessionStorage): the
// Report button says "Reported" instead of inviting a second report.

const KEY = 'jokster.reported'
let mem: Set<string> | null = null

function load(): Set<string> {
  if (mem) return mem
  mem = new Set()
  try {
    const raw = sessionStorage.getItem(KEY)
    if (raw) for (const id of JSON.parse(raw) as unknown[]) mem.add(String(id))
  } catch {
    /* no storage, or not ours */
  }
  return mem
}

export function isReported(postId: string): boolean {
  return load().has(postId)
}

export function markReported(postId: string): void {
  const s = load()
  s.add(postId)
  try {
    sessionStorage.setItem(KEY, JSON.stringify([...s]))
  } catch {
    /* kept in memory */
  }
}

// forgetReported clears the memory (tests; a new user in this tab).
export function forgetReported(): void {
  mem = new Set()
  try {
    sessionStorage.removeItem(KEY)
  } catch {
    /* nothing stored */
  }
}
