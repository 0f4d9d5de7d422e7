import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// The Go binary embeds web/dist (web/embed.go) and serves index.html for
// client routes. dist/README.txt is tracked in git so go:embed works on a
// fresh clone: the build must not delete it, so emptyOutDir is off and
// scripts/clean-dist.mjs removes the previous build instead.
const backend = process.env.JOKSTER_URL ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      '/api': backend,
      '/media': backend,
      '/redoc': backend,
      '/ws': { target: backend.replace(/^http/, 'ws'), ws: true },
    },
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
})
