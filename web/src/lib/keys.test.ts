import { describe, expect, it } from 'vitest'
import { isSend, sendShortcut } from './keys'

describe('send shortcut', () => {
  it('names the key people have', () => {
    expect(sendShortcut('MacIntel')).toBe('⌘+Enter')
    expect(sendShortcut('iPhone')).toBe('⌘+Enter')
    expect(sendShortcut('Linux x86_64')).toBe('Ctrl+Enter')
    expect(sendShortcut('Win32')).toBe('Ctrl+Enter')
  })
  it('sends on Ctrl/⌘+Enter only', () => {
    expect(isSend({ key: 'Enter', ctrlKey: true, metaKey: false })).toBe(true)
    expect(isSend({ key: 'Enter', ctrlKey: false, metaKey: true })).toBe(true)
    expect(isSend({ key: 'Enter', ctrlKey: false, metaKey: false })).toBe(false)
  })
})
