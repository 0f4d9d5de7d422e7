import { lazy, Suspense, useEffect } from 'react'
import { BrowserRouter, Route, Routes, useLocation, Link } from 'react-router'
import { AuthProvider } from './auth/auth'
import { LiveProvider, createLiveClient } from './live/live'
import { ToastProvider } from './components/Toasts'
import { Layout } from './components/Layout'
import Feed, { Spinner } from './pages/Feed'
import { useDocumentTitle } from './lib/hooks'
import { NotificationsPage } from './components/Notifications'

const PostPage = lazy(() => import('./pages/PostPage'))
const Leaderboards = lazy(() => import('./pages/Leaderboards'))
const Danger = lazy(() => import('./pages/Danger'))
const CullRun = lazy(() => import('./pages/Danger').then((m) => ({ default: m.CullRun })))
const Upload = lazy(() => import('./pages/Upload'))
const Settings = lazy(() => import('./pages/Settings'))
const ProfilePage = lazy(() => import('./pages/ProfilePage'))
const Admin = lazy(() => import('./pages/Admin'))
const Login = lazy(() => import('./pages/Account').then((m) => ({ default: m.Login })))
const Register = lazy(() => import('./pages/Account').then((m) => ({ default: m.Register })))
const ForgotPassword = lazy(() => import('./pages/Account').then((m) => ({ default: m.ForgotPassword })))
const ResetPassword = lazy(() => import('./pages/Account').then((m) => ({ default: m.ResetPassword })))

const live = createLiveClient()

function ScrollToTop() {
  const { pathname } = useLocation()
  useEffect(() => {
    window.scrollTo(0, 0)
  }, [pathname])
  return null
}

function NotFound() {
  useDocumentTitle('Not found')
  return (
    <div className="card empty">
      <h1>Nothing funny here</h1>
      <p>
        This page does not exist. <Link to="/">Back to the feed.</Link>
      </p>
    </div>
  )
}

export default function App() {
  return (
    <BrowserRouter>
      <ToastProvider>
        <AuthProvider>
          <LiveProvider client={live}>
            <ScrollToTop />
            <Layout>
              <Suspense fallback={<Spinner />}>
                <Routes>
                  <Route path="/" element={<Feed />} />
                  <Route path="/p/:id" element={<PostPage />} />
                  <Route path="/leaderboards" element={<Leaderboards />} />
                  <Route path="/danger" element={<Danger />} />
                  <Route path="/danger/runs/:id" element={<CullRun />} />
                  <Route path="/upload" element={<Upload />} />
                  <Route path="/u/:username" element={<ProfilePage />} />
                  <Route path="/settings" element={<Settings />} />
                  <Route path="/notifications" element={<NotificationsPage />} />
                  <Route path="/admin" element={<Admin />} />
                  <Route path="/login" element={<Login />} />
                  <Route path="/register" element={<Register />} />
                  <Route path="/forgot-password" element={<ForgotPassword />} />
                  <Route path="/reset-password" element={<ResetPassword />} />
                  <Route path="*" element={<NotFound />} />
                </Routes>
              </Suspense>
            </Layout>
          </LiveProvider>
        </AuthProvider>
      </ToastProvider>
    </BrowserRouter>
  )
}
