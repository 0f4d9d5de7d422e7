// Which posts are on screen right now (for polling when live updates are off).
const visible = new Set<string>()
export function markVisible(id: string, on: boolean) {
  if (on) visible.add(id)
  else visible.delete(id)
}
export function visibleIds(): string[] {
  return [...visible]
}
