import { afterEach, describe, expect, it, vi } from 'vitest'

afterEach(() => {
  vi.unstubAllGlobals()
  vi.resetModules()
})

function storage() {
  const m = new Map<string, string>()
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  }
}

describe('reported posts', () => {
  it('remembers a report for the session, across reloads of the page', async () => {
    const s = storage()
    vi.stubGlobal('sessionStorage', s)
    const a = await import('./reported')
    expect(a.isReported('12')).toBe(false)
    a.markReported('12')
    expect(a.isReported('12')).toBe(true)
    vi.resetModules() // a reload: the module starts afresh, the session stays
    const b = await import('./reported')
    expect(b.isReported('12')).toBe(true)
    expect(b.isReported('13')).toBe(false)
  })

  it('works without storage', async () => {
    vi.stubGlobal('sessionStorage', undefined)
    const a = await import('./reported')
    a.markReported('7')
    expect(a.isReported('7')).toBe(true)
  })
})
