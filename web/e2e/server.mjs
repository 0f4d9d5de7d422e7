// Starts a real Jokster for the browser tests: its own PostgreSQL database,
// its own redis-server (or a Redis database number and key prefix), free
// ports and a temporary media folder; and takes it all down afterwards.
//
// A port from freePort is free when picked, but another process may take it
// before our server binds it. The servers are started on picked ports all
// the same (Jokster's PUBLIC_URL must name its port before it starts), each
// is trusted only once its own log says it listens, and a start that finds
// its port taken is tried again on new ports.

import { spawn, spawnSync, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync, openSync, closeSync, mkdirSync, readFileSync, statSync } from 'node:fs'
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// Tries a server start on fresh ports while start(attempt) answers 'taken'.
async function onFreePorts(what, start) {
  for (let attempt = 1; ; attempt++) {
    const r = await start(attempt)
    if (r !== 'taken') return r
    if (attempt === 5) throw new Error(`${what}: the ports picked were taken by other processes ${attempt} times`)
    log(`${what}: another process took a port picked for it; trying new ones`)
  }
}

// startRedis runs a redis-server of our own; its URL.
async function startRedis(work, cleanups) {
  return onFreePorts('redis-server', async () => {
    const port = await freePort()
    const r = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', work], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    const keep = (d) => {
      if (out.length < 65536) out += d
    }
    r.stdout.on('data', keep)
    r.stderr.on('data', keep)
    let exited = false
    r.once('exit', () => (exited = true))
    cleanups.push(async () => {
      if (exited) return
      r.kill('SIGTERM')
      await new Promise((res) => (r.exitCode !== null || r.signalCode !== null ? res() : r.once('exit', res)))
    })
    // Trusted once its own output says it listens: a connection alone could
    // reach another server that holds the port while ours fails to bind it.
    const end = Date.now() + 10_000
    for (;;) {
      if (/Ready to accept connections/.test(out)) return `redis://127.0.0.1:${port}/0`
      if (exited) {
        if (/Address already in use/i.test(out)) return 'taken'
        throw new Error(`redis-server exited:\n${out}`)
      }
      if (Date.now() > end) throw new Error(`redis-server on port ${port} is not ready:\n${out}`)
      await sleep(50)
    }
  })
}

// listening is the address in the server's "<msg>" log line (text or JSON).
function listening(logText, msg) {
  return logText.match(new RegExp(`${msg}"[ ,]"?addr"?[=:]"?([^"\\s,]+)`))?.[1]
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

// startServer starts a Jokster; by default the suite's own (seeded, with the
// fast cull the scenarios expect). A scenario that needs other settings
// starts one more with env (variables that win over the defaults and over
// the process's own environment), seed false (no demo users and posts) and
// a name for its log lines.
export async function startServer({ root, bin, env: overrides = {}, seed = true, name = 'jokster' }) {
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
    try {
      redisURL = await startRedis(work, cleanups)
    } catch (e) {
      await cleanup()
      throw e
    }
  } else {
    redisURL = process.env.E2E_REDIS_URL || `redis://127.0.0.1:6379/${13}`
  }

  // ADDR, OPS_ADDR and PUBLIC_URL are set when the server starts (below).
  const env = {
    ...process.env,
    DATABASE_URL: dbURL.toString(),
    REDIS_URL: redisURL,
    REDIS_PREFIX: `e2e${id}:`,
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
    ...overrides,
  }
  const run = (args) => {
    const r = spawnSync(bin, args, { env, encoding: 'utf8', cwd: root })
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`)
  }
  log(`${name}: database ${dbName}, redis ${redisURL}`)
  let seeded = 0
  try {
    run(['migrate'])
    if (seed) {
      run(['seed'])
      const r = spawnSync('psql', [dbURL.toString(), '-Atq', '-c', `SELECT count(*) FROM posts WHERE status IN ('ready', 'processing')`], { encoding: 'utf8' })
      seeded = Number(r.stdout.trim()) || 0
    }
  } catch (e) {
    await cleanup()
    throw e
  }
  // The scenarios add three posts that the floor keeps (the doomed one, the
  // upload and the leaderboard's) until the cull test adds a fourth.
  env.CULL_FLOOR = overrides.CULL_FLOOR ?? (process.env.CULL_FLOOR || String(seeded + 3))

  const logFile = join(work, 'server.log')
  cleanups.unshift(async () => {
    if (!process.env.E2E_KEEP) rmSync(work, { recursive: true, force: true })
    else log(`kept ${work}`)
  })
  const startJokster = async () => {
    const port = await freePort()
    const addr = `127.0.0.1:${port}`
    Object.assign(env, { ADDR: addr, OPS_ADDR: `127.0.0.1:${await freePort()}`, PUBLIC_URL: `http://${addr}` })
    // This start's lines: the log keeps those of a start that failed.
    const from = existsSync(logFile) ? statSync(logFile).size : 0
    const out = openSync(logFile, 'a')
    const proc = spawn(bin, ['all'], { env, cwd: root, stdio: ['ignore', out, out] })
    closeSync(out)
    let exited = false
    proc.once('exit', () => (exited = true))
    cleanups.push(async () => {
      if (!exited) {
        proc.kill('SIGTERM')
        await Promise.race([new Promise((res) => proc.once('exit', res)), sleep(10_000)])
        if (!exited) proc.kill('SIGKILL')
      }
    })
    const url = `http://${addr}`
    const end = Date.now() + 30_000
    for (;;) {
      const lines = readFileSync(logFile).subarray(from).toString('utf8')
      if (exited) {
        if (/address already in use/i.test(lines)) return 'taken'
        throw new Error('the server exited:\n' + lines.slice(-3000))
      }
      // The public listener is up after the operations one: both are ours.
      if (listening(lines, 'public listener up') === addr) {
        const ready = await fetch(url + '/readyz').then((r) => r.ok, () => false)
        if (ready) return url
      }
      if (Date.now() > end) throw new Error('timed out after 30000 ms waiting for the server to be ready:\n' + lines.slice(-3000))
      await sleep(150)
    }
  }
  let url
  try {
    url = await onFreePorts(name, startJokster)
  } catch (e) {
    await cleanup()
    throw e
  }
  log(`${name}: server at ${url}`)
  return { url, env, logFile, cleanup, bin, dbName, seeded }
}
