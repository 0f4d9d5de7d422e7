// Starts a real Jokster for the browser tests: its own PostgreSQL database,
// its own redis-server (or a Redis database number and key prefix), free
// ports and a temporary media folder; and takes it all down afterwards.

import { spawn, spawnSync, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync, openSync, mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'
import { randomBytes } from 'node:crypto'

export const log = (...a) => console.log('e2e:', ...a)

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

async function waitFor(fn, what, ms) {
  const end = Date.now() + ms
  let last
  while (Date.now() < end) {
    try {
      if (await fn()) return
    } catch (e) {
      last = e
    }
    await new Promise((r) => setTimeout(r, 150))
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ': ' + last.message : ''}`)
}

// ensureChromium installs Debian's chromium when it is missing and we may.
export function ensureChromium(path) {
  if (existsSync(path)) return
  if (process.getuid?.() === 0 && have('apt-get')) {
    log(`${path} is missing: installing Debian's chromium (apt-get install -y chromium)`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    execFileSync('apt-get', ['-q', 'update'], { stdio: 'inherit', env })
    execFileSync('apt-get', ['-q', 'install', '-y', '--no-install-recommends', 'chromium', 'fonts-noto-color-emoji'], { stdio: 'inherit', env })
  }
  if (!existsSync(path)) throw new Error(`${path} not found: install Debian's chromium (apt-get install chromium) or set CHROMIUM`)
}

export async function startServer({ root, bin }) {
  const id = randomBytes(4).toString('hex')
  const work = mkdtempSync(join(tmpdir(), 'jokster-e2e-'))
  const media = join(work, 'media')
  mkdirSync(media)
  const cleanups = []
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn()
      } catch (e) {
        log('cleanup:', e.message)
      }
    }
    cleanups.length = 0
  }

  // PostgreSQL: a database of our own, created by `migrate`, dropped at the end.
  const base = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/jokster?sslmode=disable')
  const dbName = `jokster_e2e_${id}`
  const dbURL = new URL(base)
  dbURL.pathname = '/' + dbName
  const adminURL = new URL(base)
  adminURL.pathname = '/postgres'
  cleanups.push(async () => {
    if (process.env.E2E_KEEP) {
      log(`kept the database ${dbName} (E2E_KEEP)`)
      return
    }
    if (!have('psql')) {
      log(`psql not found: drop the database ${dbName} by hand`)
      return
    }
    const r = spawnSync('psql', [adminURL.toString(), '-q', '-v', 'ON_ERROR_STOP=1', '-c', `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`], { encoding: 'utf8' })
    if (r.status !== 0) log(`could not drop ${dbName}: ${r.stderr.trim()}`)
    else log(`dropped database ${dbName}`)
  })

  // Redis: our own redis-server when there is one (asynq's keys have no
  // prefix, so sharing a database with another run could mix queues).
  let redisURL
  if (have('redis-server') && !process.env.E2E_REDIS_URL) {
    const port = await freePort()
    const r = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', work], { stdio: 'ignore' })
    cleanups.push(async () => {
      r.kill('SIGTERM')
      await new Promise((res) => (r.exitCode !== null ? res() : r.once('exit', res)))
    })
    await waitFor(
      () =>
        new Promise((res) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.end()
            res(true)
          })
          s.on('error', () => res(false))
        }),
      'redis-server',
      10_000,
    )
    redisURL = `redis://127.0.0.1:${port}/0`
  } else {
    redisURL = process.env.E2E_REDIS_URL || `redis://127.0.0.1:6379/${13}`
  }

  const port = await freePort()
  const opsPort = await freePort()
  const env = {
    ...process.env,
    DATABASE_URL: dbURL.toString(),
    REDIS_URL: redisURL,
    REDIS_PREFIX: `e2e${id}:`,
    ADDR: `127.0.0.1:${port}`,
    OPS_ADDR: `127.0.0.1:${opsPort}`,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    MEDIA_ROOT: media,
    LOG_LEVEL: process.env.E2E_LOG_LEVEL || 'info',
    SHUTDOWN_TIMEOUT: '5s',
    // A fast cull for the danger-zone test: every 15 s, no grace period, one
    // post at most, and a floor (set below) that keeps every post until the
    // cull test adds one more.
    CULL_INTERVAL: process.env.CULL_INTERVAL || '15s',
    CULL_GRACE: process.env.CULL_GRACE || '0s',
    CULL_SHARE: process.env.CULL_SHARE || '1',
    CULL_MAX: process.env.CULL_MAX || '1',
    WS_BOARD_RATE: '5',
  }
  const run = (args) => {
    const r = spawnSync(bin, args, { env, encoding: 'utf8', cwd: root })
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`)
  }
  log(`database ${dbName}, redis ${redisURL}, http://127.0.0.1:${port}`)
  let seeded = 0
  try {
    run(['migrate'])
    run(['seed'])
    const r = spawnSync('psql', [dbURL.toString(), '-Atq', '-c', `SELECT count(*) FROM posts WHERE status IN ('ready', 'processing')`], { encoding: 'utf8' })
    seeded = Number(r.stdout.trim()) || 0
  } catch (e) {
    await cleanup()
    throw e
  }
  // The scenarios add three posts that the floor keeps (the doomed one, the
  // upload and the leaderboard's) until the cull test adds a fourth.
  env.CULL_FLOOR = process.env.CULL_FLOOR || String(seeded + 3)

  const logFile = join(work, 'server.log')
  const out = openSync(logFile, 'a')
  const proc = spawn(bin, ['all'], { env, cwd: root, stdio: ['ignore', out, out] })
  let exited = false
  proc.once('exit', () => (exited = true))
  cleanups.push(async () => {
    if (!exited) {
      proc.kill('SIGTERM')
      await Promise.race([new Promise((res) => proc.once('exit', res)), new Promise((res) => setTimeout(res, 10_000))])
      if (!exited) proc.kill('SIGKILL')
    }
  })
  cleanups.unshift(async () => {
    if (!process.env.E2E_KEEP) rmSync(work, { recursive: true, force: true })
    else log(`kept ${work}`)
  })
  const url = `http://127.0.0.1:${port}`
  try {
    await waitFor(async () => {
      if (exited) throw new Error('the server exited:\n' + readFileSync(logFile, 'utf8').slice(-3000))
      const r = await fetch(url + '/readyz')
      return r.ok
    }, 'the server to be ready', 30_000)
  } catch (e) {
    await cleanup()
    throw e
  }
  return { url, env, logFile, cleanup, bin, dbName, seeded }
}
