// Who is signed in. The access token lives in memory (api/client.ts); after a
// reload the session is restored from the httpOnly refresh cookie.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { api, mayHaveSession, onSessionChange, refreshSession, setSession } from '../api/client'
import type { Me, Session } from '../api/types'
import { forgetFollowing } from '../lib/following'
import { forgetReported } from '../lib/reported'

interface AuthValue {
  me: Me | null
  ready: boolean
  login: (who: string, password: string) => Promise<void>
  logout: () => Promise<void>
  reloadMe: () => Promise<void>
  setMe: (me: Me | null) => void
}

const AuthContext = createContext<AuthValue | null>(null)

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null)
  const [ready, setReady] = useState(false)

  const reloadMe = useCallback(async () => {
    try {
      setMe(await api<Me>('/me'))
    } catch {
      setMe(null)
    }
  }, [])

  useEffect(() => {
    const off = onSessionChange((token) => {
      if (!token) {
        setMe(null)
        // What this tab knew of the user goes with them.
        forgetFollowing()
        forgetReported()
      }
    })
    ;(async () => {
      if (mayHaveSession()) {
        const token = await refreshSession()
        if (token) await reloadMe()
      }
      setReady(true)
    })()
    return off
  }, [reloadMe])

  const login = useCallback(
    async (who: string, password: string) => {
      const body = who.includes('@') ? { email: who.trim(), password } : { username: who.trim(), password }
      const s = await api<Session>('/auth/login', { method: 'POST', body, noRetry: true })
      setSession(s)
      await reloadMe()
    },
    [reloadMe],
  )

  const logout = useCallback(async () => {
    try {
      await api<void>('/auth/logout', { method: 'POST', noRetry: true })
    } finally {
      setSession(null)
      setMe(null)
    }
  }, [])

  const value = useMemo(() => ({ me, ready, login, logout, reloadMe, setMe }), [me, ready, login, logout, reloadMe])
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>
}

export function useAuth(): AuthValue {
  const v = useContext(AuthContext)
  if (!v) throw new Error('useAuth outside AuthProvider')
  return v
}
