export function Avatar({ name, url, size = 36 }: { name: string; url: string | null | undefined; size?: number }) {
  const initials = name
    .split(/[\s_]+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]!.toUpperCase())
    .join('')
  let hue = 0
  for (const ch of name) hue = (hue * 31 + ch.charCodeAt(0)) % 360
  if (url) return <img className="avatar" src={url} alt="" width={size} height={size} loading="lazy" style={{ width: size, height: size }} />
  return (
    <span className="avatar avatar-initials" aria-hidden="true" style={{ width: size, height: size, fontSize: size * 0.42, background: `hsl(${hue} 55% 45%)` }}>
      {initials || '?'}
    </span>
  )
}
