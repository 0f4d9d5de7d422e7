// Tags as people type them: comma separated ("cats, fails, puns"). A space
// inside an entry belongs to it: "funny cats" is one (bad) tag, which the
// server explains, not two tags made up behind the author's back.
export function parseTags(s: string): string[] {
  const out: string[] = []
  for (const raw of s.split(',')) {
    const t = raw.trim().replace(/^#+/, '').trim().toLowerCase()
    if (t && !out.includes(t)) out.push(t)
  }
  return out
}
