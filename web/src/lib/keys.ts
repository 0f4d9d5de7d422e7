// The keyboard shortcut that sends a multi-line text (a comment): Enter
// adds a line, Ctrl+Enter (⌘+Enter on Apple devices) sends.

function isApple(platform: string): boolean {
  return /mac|iphone|ipad|ipod/i.test(platform)
}

export function sendShortcut(platform: string): string {
  return isApple(platform) ? '⌘+Enter' : 'Ctrl+Enter'
}

export function currentPlatform(): string {
  if (typeof navigator === 'undefined') return ''
  const n = navigator as Navigator & { userAgentData?: { platform?: string } }
  return n.userAgentData?.platform || n.platform || n.userAgent || ''
}

// isSend: the key press sends the text.
export function isSend(e: { key: string; ctrlKey: boolean; metaKey: boolean }): boolean {
  return e.key === 'Enter' && (e.ctrlKey || e.metaKey)
}
