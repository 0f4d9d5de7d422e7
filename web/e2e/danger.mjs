// The danger-zone notifications, end to end, on a Jokster of their own.
//
// The suite's server culls every 15 s with no grace, so a post is culled on
// the tick that puts it in the danger zone and never sits there. This
// scenario starts a second server whose next cull is far away (a long
// CULL_INTERVAL, its next cycle at least half an hour off) while the danger
// check — the worker's cull tick, cull.Service.Tick → CheckDanger, every
// min(CULL_INTERVAL, 1m) = 1 minute — keeps running: a post can enter the
// zone, be rated out of it and leave, each step heard by its author's open
// page over the `me` channel, and nothing is culled meanwhile.
//
// The zone: no demo data, no grace, CULL_SHARE=1, CULL_MAX=1, CULL_FLOOR=2.
// The author's post is created first, unrated (top score ≈ 2.05); while it
// is the only post the floor keeps the zone empty. Two posts by someone
// else, each rated 5★ once (≈ 2.40), make three ready posts: the zone is
// one post, the worst — the author's. Two 5★ ratings (≈ 2.70) then lift it
// above them, and the zone moves to another post.
//
// The author's post is left unrated until it is in the zone, so that the
// only ratings before "entered" are the other posts': which tick hears it
// is then the only variable. (Until this scenario found it, a post rated
// in the same minute as the danger check could make the check fail to
// serialize and lose that tick; cull and ranking tests now cover it.)

import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { startServer } from './server.mjs'
import { PASSWORD, apiUser, newPage, shot, textPost, until } from './scenarios.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const tag = randomBytes(3).toString('hex')

// The danger check runs once a minute; one transition is heard within a
// tick, and a tick can be skipped when the scheduler fires right at a
// minute's edge (periodicOnce runs one per wall-clock minute): two ticks
// and some slack.
const TICK_WAIT = 150_000

// longInterval picks a CULL_INTERVAL (whole seconds, about two hours) whose
// next cycle starts at least minLeft seconds from now: cycles start at
// multiples of the interval after the Unix epoch, so a fixed one could put
// a cull in the middle of the scenario.
function longInterval(minLeft = 1800) {
  const now = Math.floor(Date.now() / 1000)
  for (let i = 7200; ; i++) if (i - (now % i) >= minLeft) return i
}

export const dangerScenarios = [
  {
    name: 'danger notifications live: the author sees the post enter the danger zone, then be safe again after ratings (own server)',
    timeout: 360,
    async run(ctx) {
      const interval = longInterval()
      const server = await startServer({
        root,
        bin: ctx.server.bin,
        name: 'danger server',
        seed: false,
        env: {
          CULL_INTERVAL: `${interval}s`,
          CULL_GRACE: '0s',
          CULL_SHARE: '1',
          CULL_MAX: '1',
          CULL_FLOOR: '2',
          CULL_BOARD: 'top',
        },
      })
      // run.mjs takes it down along with its own server should this
      // scenario time out.
      ;(ctx.cleanups ??= []).push(server.cleanup)
      ctx.pages ??= []
      const d = { ...ctx, url: server.url }
      try {
        await scenario(d)
      } finally {
        await server.cleanup()
      }
    },
  },
]

async function scenario(d) {
  const cull = async () => {
    const res = await fetch(`${d.url}/api/v1/cull`)
    if (!res.ok) throw new Error(`GET /cull: ${res.status}`)
    return res.json()
  }
  const inZone = (c) => c.danger.items.map((i) => i.post_id)

  const ada = await apiUser(d, 'ada')
  const rex = await apiUser(d, 'rex')
  const ray = await apiUser(d, 'ray')
  const fil = await apiUser(d, 'fil')

  // The author's post; alone, the floor keeps it out of the zone.
  const caption = `Why did the scarecrow win an award? Outstanding in his field ${tag}`
  const p = await textPost(d, ada, caption)
  {
    // The worker's first tick runs the current cycle's cull at once (it
    // finds nothing to cull: two posts or fewer are under the floor);
    // from then on the next cull is the next cycle's, far away.
    const c = await until(async () => {
      const c = await cull()
      return c.recent_runs.length > 0 && new Date(c.next_cull_at).getTime() > Date.now() && c
    }, "the first cull run (on the worker's first tick)", 30_000)
    const left = (new Date(c.next_cull_at).getTime() - Date.now()) / 1000
    if (c.settings.floor !== 2 || c.settings.grace_seconds !== 0 || c.settings.max !== 1) throw new Error('the danger server runs with other settings: ' + JSON.stringify(c.settings))
    if (left < 900) throw new Error(`the next cull is only ${Math.round(left)} s away`)
    if (c.danger.count !== 0) throw new Error(`the zone has ${c.danger.count} posts before there are enough posts for a cull`)
  }

  // The author opens the post's page, logged in, with the bell's list open.
  const a = await newPage(d, 'ada')
  const frames = []
  a.on('websocket', (ws) =>
    ws.on('framereceived', (f) => {
      try {
        const m = JSON.parse(String(f.payload))
        if (m.ch === 'me') frames.push(m)
      } catch {
        /* not ours */
      }
    }),
  )
  await a.goto(`${d.url}/login?next=${encodeURIComponent('/p/' + p)}`)
  await a.locator('#who').fill(ada.username)
  await a.locator('#password').fill(PASSWORD)
  await a.getByRole('button', { name: 'Log in' }).click()
  await a.locator('.post-full').waitFor()
  // Subscribed to its `me` channel: what comes from now on comes live.
  await until(() => frames.some((m) => m.type === 'snapshot'), 'the me channel snapshot', 15_000)
  await a.evaluate(() => (window.__e2eMarker = 'danger page'))
  await a.getByRole('button', { name: /^Notifications/ }).click()
  const pop = a.getByRole('region', { name: 'Notifications' })
  await pop.waitFor()
  await pop.getByText('Loading…').waitFor({ state: 'detached' })
  const note = (text) => pop.locator('.notif', { hasText: `Your post “${caption}” ${text}` })
  if ((await note('entered the danger zone!').count()) !== 0) throw new Error('the danger notification is there before the post is in danger')

  // Two more posts, liked: three ready, one over the floor — the zone is
  // the worst post, the author's (from the second one's creation on: an
  // unrated second one ties with it, and ties go against the older post).
  // The API computes the zone on request; the notification waits for the
  // worker's next tick.
  const f1 = await textPost(d, fil, `I used to be a banker, but I lost interest. ${tag}`)
  await rex.as('PUT', `/posts/${f1}/rating`, { stars: 5 })
  const f2 = await textPost(d, fil, `Parallel lines have so much in common. Shame they'll never meet. ${tag}`)
  await rex.as('PUT', `/posts/${f2}/rating`, { stars: 5 })
  await until(async () => {
    const z = inZone(await cull())
    return z.length === 1 && z[0] === p
  }, 'the API to list the post as the danger zone', 30_000)

  // The author's open page hears it: the list gains the notification live
  // (it is read only when the bell opens), unread, with both links.
  const t0 = Date.now()
  const entered = note('entered the danger zone!')
  await entered.waitFor({ timeout: TICK_WAIT })
  console.log(`    (entered heard ${((Date.now() - t0) / 1000).toFixed(0)} s after the zone formed at ${new Date(t0).toISOString()})`)
  if ((await a.evaluate(() => window.__e2eMarker)) !== 'danger page') throw new Error('the page was reloaded')
  if (!frames.some((m) => m.type === 'notification' && m.data?.kind === 'danger' && m.data?.data?.state === 'entered' && String(m.data?.data?.post_id) === p))
    throw new Error('no live "entered" notification came over the me channel')
  if (!/\bunread\b/.test((await entered.getAttribute('class')) ?? '')) throw new Error('the new danger notification is not marked unread')
  if ((await entered.locator(`a[href="/p/${p}"]`).count()) !== 1) throw new Error('the danger notification does not link to the post')
  if ((await entered.locator('a.notif-extra[href="/danger"]').count()) !== 1) throw new Error('the danger notification has no link to the danger zone')
  await until(async () => Number((await a.getByTestId('unread-count').textContent({ timeout: 1_000 })) ?? 0) >= 1, 'the bell to count the unread notification', 5_000)
  if ((await note('is safe again').count()) !== 0) throw new Error('"safe again" is shown while the post is in danger')
  // It sits in the zone: still ready, no cull.
  const post = await (await fetch(`${d.url}/api/v1/posts/${p}`)).json()
  if (post.status !== 'ready') throw new Error(`the post is ${post.status}, not ready, while in the danger zone`)
  await shot(d, a, 'danger-entered', { settle: 300 })

  // Others rate it up: the zone moves to another post.
  await rex.as('PUT', `/posts/${p}/rating`, { stars: 5 })
  await ray.as('PUT', `/posts/${p}/rating`, { stars: 5 })
  await until(async () => {
    const z = inZone(await cull())
    return z.length === 1 && z[0] !== p && [f1, f2].includes(z[0])
  }, 'the API to move the danger zone to another post', 30_000)

  const t1 = Date.now()
  const safe = note('is safe again')
  await safe.waitFor({ timeout: TICK_WAIT })
  console.log(`    (safe again heard ${((Date.now() - t1) / 1000).toFixed(0)} s after the ratings at ${new Date(t1).toISOString()})`)
  if ((await a.evaluate(() => window.__e2eMarker)) !== 'danger page') throw new Error('the page was reloaded')
  if (!frames.some((m) => m.type === 'notification' && m.data?.kind === 'danger' && m.data?.data?.state === 'left' && String(m.data?.data?.post_id) === p))
    throw new Error('no live "left" notification came over the me channel')
  if (!/\bunread\b/.test((await safe.getAttribute('class')) ?? '')) throw new Error('the "safe again" notification is not marked unread')
  if ((await safe.locator(`a[href="/p/${p}"]`).count()) !== 1) throw new Error('the "safe again" notification does not link to the post')
  // Newest first: "safe again" above "entered", each once.
  const texts = await pop.locator('.notif .notif-text').allTextContents()
  const iSafe = texts.findIndex((t) => t.includes(caption) && t.includes('is safe again'))
  const iIn = texts.findIndex((t) => t.includes(caption) && t.includes('entered the danger zone!'))
  if (iSafe < 0 || iIn < 0 || iSafe > iIn) throw new Error('the list does not show "safe again" above "entered": ' + JSON.stringify(texts))
  if (texts.filter((t) => t.includes(caption) && /entered the danger zone!|is safe again/.test(t)).length !== 2) throw new Error('a danger notification is listed twice: ' + JSON.stringify(texts))
  await shot(d, a, 'danger-safe-again', { settle: 300 })

  // Nothing was culled meanwhile.
  const c = await cull()
  if (c.recent_runs.some((r) => r.victim_count > 0)) throw new Error('a cull ran during the scenario: ' + JSON.stringify(c.recent_runs))
  await a.context().close()
}
