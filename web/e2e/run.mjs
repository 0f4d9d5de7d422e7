#!/usr/bin/env node
// npm run e2e — the browser tests, in Debian's headless Chromium driven by
// playwright-core, against a real Jokster (real PostgreSQL and Redis): it
// builds the web app and the binary, starts the server with a database,
// Redis and ports of its own, runs the scenarios, saves screenshots to
// web/e2e-screenshots/, and takes everything down again (the database is
// dropped).
//
// Environment: DATABASE_URL (a server to create the test database on;
// default postgres://postgres@127.0.0.1:5432), CHROMIUM (default
// /usr/bin/chromium), JOKSTER_BIN (use this binary instead of building one;
// it must embed the current web/dist), E2E_SKIP_BUILD=1 (use web/dist and the
// binary as they are), E2E_KEEP=1 (keep the server log and media), E2E_ONLY
// (a substring of the test names to run), E2E_HEADED=1.

import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { ensureChromium, log, startServer } from './server.mjs'
import { scenarios, Skip } from './scenarios.mjs'
import { dangerScenarios } from './danger.mjs'

const web = join(dirname(fileURLToPath(import.meta.url)), '..')
const root = join(web, '..')
const shots = join(web, 'e2e-screenshots')
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium'
const started = Date.now()

function sh(cmd, args, cwd) {
  log(`${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: process.env })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`)
}

async function main() {
  ensureChromium(chromiumPath)
  let bin = process.env.JOKSTER_BIN ? resolve(root, process.env.JOKSTER_BIN) : undefined
  if (!process.env.E2E_SKIP_BUILD) {
    sh('npm', ['run', '--silent', 'build'], web)
    if (!bin) {
      bin = join(root, 'bin', 'jokster-e2e')
      sh('go', ['build', '-o', bin, './cmd/jokster'], root)
    }
  }
  bin ??= join(root, 'bin', 'jokster-e2e')

  const server = await startServer({ root, bin })
  let browser
  const results = []
  // Servers a scenario started of its own (ctx.cleanups), taken down with
  // ours even when the scenario timed out.
  const cleanups = []
  const cleanupScenarios = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((e) => log('cleanup:', e.message))
  }
  const onSignal = async () => {
    log('interrupted: cleaning up')
    await browser?.close().catch(() => {})
    await cleanupScenarios()
    await server.cleanup()
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: !process.env.E2E_HEADED,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
    })
    rmSync(shots, { recursive: true, force: true })
    mkdirSync(shots, { recursive: true })
    const ctx = { server, browser, url: server.url, shots, consoleErrors: [], cleanups }
    const only = process.env.E2E_ONLY
    let failedBefore = false
    // The scenarios on servers of their own go last, before the ones that
    // always run (the console check).
    const all = [...scenarios.filter((s) => !s.always), ...dangerScenarios, ...scenarios.filter((s) => s.always)]
    for (const s of all) {
      if (only && !s.name.includes(only) && !s.always) continue
      if (failedBefore && s.needsPrevious) {
        results.push({ name: s.name, status: 'skipped' })
        console.log(`  - ${s.name} (skipped: an earlier step failed)`)
        continue
      }
      const t0 = Date.now()
      try {
        await Promise.race([s.run(ctx), new Promise((_, rej) => setTimeout(() => rej(new Error(`took longer than ${s.timeout ?? 45} s`)), (s.timeout ?? 45) * 1000))])
        results.push({ name: s.name, status: 'passed' })
        console.log(`  ✓ ${s.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
      } catch (e) {
        if (e instanceof Skip && !process.env.E2E_STRICT) {
          results.push({ name: s.name, status: 'skipped' })
          console.log(`  - ${s.name} (skipped: ${e.message})`)
          continue
        }
        failedBefore = true
        results.push({ name: s.name, status: 'failed', error: e })
        console.log(`  ✗ ${s.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n      ${String(e.stack || e).split('\n').slice(0, 6).join('\n      ')}`)
        for (const page of ctx.pages ?? []) {
          await page.screenshot({ path: join(shots, `failure-${results.length}-${page.__label}.png`) }).catch(() => {})
        }
      }
    }
  } finally {
    await browser?.close().catch(() => {})
    await cleanupScenarios()
    await server.cleanup()
  }
  const passed = results.filter((r) => r.status === 'passed').length
  const failed = results.filter((r) => r.status === 'failed').length
  const skipped = results.filter((r) => r.status === 'skipped').length
  log(`screenshots in ${shots}; ${((Date.now() - started) / 1000).toFixed(0)} s in all`)
  if (failed) log(`the server log was ${server.logFile}${process.env.E2E_KEEP ? '' : ' (removed; E2E_KEEP=1 keeps it)'}`)
  console.log(`e2e: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
  process.exit(failed ? 1 : 0)
}

main().catch((e) => {
  console.error('e2e:', e.stack || e)
  console.log('e2e: 0 passed, 1 failed')
  process.exit(1)
})
