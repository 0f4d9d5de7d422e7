// normalizeTag puts a tag in the form the server keeps it in, as the REST API
// and the tag boards' channel names do (Go: posts.NormalizeTag): Unicode
// NFKC, the leading '#'s stripped, lower case — "＃ＣＡＴＳ" and "#Cats" are
// "cats". Lower case as Go's strings.ToLower: letter by letter (a final
// "Σ" is "σ", not the "ς" of String.prototype.toLowerCase on a whole word),
// each letter to one ("İ" is "i", not "i" and a combining dot). Spaces
// around the tag and after the '#' are dropped as well, for people typing.
// Whether it is a tag at all (letters, digits, '_'; 30 at most) is the
// server's to say.
export function normalizeTag(raw: string): string {
  const t = raw.trim().normalize('NFKC').replace(/^#+/, '').trim()
  let out = ''
  for (const ch of t) {
    const lower = ch.toLowerCase()
    // Only "İ" has a longer lower case; its first letter is Go's.
    out += lower.length > ch.length ? String.fromCodePoint(lower.codePointAt(0)!) : lower
  }
  return out
}

// tagBoardChannel names the live channel of a tag's board as the server
// sends its messages (docs/realtime.md): board:tag:<normalised tag>:top|hot.
// A name the server would normalise otherwise gets no message.
export function tagBoardChannel(tag: string, sort: string): string | null {
  const t = normalizeTag(tag)
  return t ? `board:tag:${t}:${sort === 'hot' ? 'hot' : 'top'}` : null
}

// Tags as people type them: comma separated ("cats, fails, puns"). A space
// inside an entry belongs to it: "funny cats" is one (bad) tag, which the
// server explains, not two tags made up behind the author's back.
export function parseTags(s: string): string[] {
  const out: string[] = []
  for (const raw of s.split(',')) {
    const t = normalizeTag(raw)
    if (t && !out.includes(t)) out.push(t)
  }
  return out
}
