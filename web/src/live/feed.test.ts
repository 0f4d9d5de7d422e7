import { describe, expect, it } from 'vitest'
import { FeedLive, type FeedChange } from './feed'
import type { LiveEvent } from './LiveClient'
import type { Post } from '../api/types'
import { makePost } from '../test/fixtures'

const post = (id: number, tags: string[] = []): Post => makePost({ id: String(id), caption: `post ${id}`, tags })
const posts = (...ids: number[]) => ids.map((id) => post(id))
// newest first, as the API and the snapshot list them
const span = (hi: number, lo: number) => Array.from({ length: hi - lo + 1 }, (_, i) => post(hi - i))

let v = 1
const snapshot = (items: Post[]): LiveEvent => ({ ch: 'posts:new', type: 'snapshot', v: v++, data: { items } })
const added = (p: Post): LiveEvent => ({ ch: 'posts:new', type: 'new', v: v++, data: p })
const goneEv = (id: number, status = 'culled'): LiveEvent => ({ ch: 'posts:new', type: 'gone', v: v++, data: { id: String(id), status } })
const resync: LiveEvent = { ch: 'posts:new', type: 'resync', message: 'reconnect' }

// list plays the feed page: what it shows, and what waits behind the bar.
function list(tag = '', baseline = false, accept?: (p: Post) => boolean) {
  const f = new FeedLive()
  f.reset(tag, baseline, accept)
  const hidden = new Set<string>()
  const pending: string[] = []
  const apply = (c: FeedChange) => {
    for (const id of c.gone) hidden.add(id)
    for (const id of c.back) hidden.delete(id)
    for (const p of c.fresh) if (!pending.includes(p.id)) pending.unshift(p.id)
    for (const id of c.gone) if (pending.includes(id)) pending.splice(pending.indexOf(id), 1)
  }
  return {
    f,
    page: (items: Post[]) => apply(f.pageIn(items)),
    baseline: (items: Post[]) => apply(f.baselineIn(items)),
    hear: (ev: LiveEvent) => apply(f.event(ev)),
    hidden: () => [...hidden].sort(),
    pending: () => [...pending],
  }
}

describe('FeedLive: a new post heard before the first page', () => {
  it('is announced once the page is in, if the page does not have it', () => {
    const l = list()
    l.hear(added(post(31))) // the page below was read just before 31 went up
    expect(l.pending()).toEqual([])
    l.page(span(30, 21))
    expect(l.pending()).toEqual(['31'])
  })

  it('is not announced when the page has it, nor twice', () => {
    const l = list()
    l.hear(snapshot(span(31, 12)))
    l.hear(added(post(31)))
    l.hear(added(post(32)))
    l.page(span(31, 22))
    expect(l.pending()).toEqual(['32'])
    l.hear(added(post(32)))
    expect(l.pending()).toEqual(['32'])
  })

  it('keeps to a tag typed in another form, as the server normalises it (NFKC, lower case, no #)', () => {
    const l = list('＃ＣＡＴＳ')
    l.hear(added(post(31, ['dogs'])))
    l.hear(added(post(32, ['cats'])))
    l.page([post(30, ['cats'])])
    expect(l.pending()).toEqual(['32'])
  })

  it('waits for the newest post overall on Hot and Top (the page is not by date)', () => {
    const l = list('', true)
    l.hear(snapshot(span(40, 21)))
    l.page(posts(25, 7, 33, 2)) // the hottest
    expect(l.pending()).toEqual([])
    l.baseline([post(40)])
    expect(l.pending()).toEqual([])
    l.hear(added(post(41)))
    expect(l.pending()).toEqual(['41'])
  })

  it('keeps to the tag of the list', () => {
    const l = list('cats')
    l.hear(added(post(31, ['dogs'])))
    l.hear(added(post(32, ['cats'])))
    l.page([post(30, ['cats'])])
    expect(l.pending()).toEqual(['32'])
  })

  it('plays removals heard before the page too', () => {
    const l = list()
    l.hear(goneEv(28))
    l.page(span(30, 21)) // read before 28 was culled
    expect(l.hidden()).toEqual(['28'])
  })
})

describe('FeedLive: the posts:new snapshot after a reconnection', () => {
  it('hides posts of the list that it should list and does not (a missed `gone`)', () => {
    const l = list()
    l.page(span(30, 21))
    l.hear(snapshot(span(30, 11)))
    l.hear(resync) // the socket drops; 27 and 24 are culled meanwhile
    l.hear(snapshot(span(30, 9).filter((p) => p.id !== '27' && p.id !== '24')))
    expect(l.hidden()).toEqual(['24', '27'])
  })

  it('leaves alone posts older than the oldest it lists, and posts newer than the newest', () => {
    const l = list()
    l.page([...span(60, 51), ...span(20, 11)]) // two pages; 51-60 went up after the snapshot was read
    l.hear(snapshot(span(45, 26)))
    expect(l.hidden()).toEqual([])
  })

  it('judges every post below the newest when it lists fewer than a full snapshot (all there are)', () => {
    const l = list()
    l.page(span(10, 1))
    l.hear(snapshot(posts(10, 9, 8, 6, 5, 4, 3, 2, 1)))
    expect(l.hidden()).toEqual(['7'])
  })

  it('shows a hidden post again when it turns out to be up (it became ready after the snapshot was read)', () => {
    const l = list()
    l.hear(snapshot(span(30, 11).filter((p) => p.id !== '25'))) // 25 was still processing
    l.page(span(30, 21)) // read after 25 was ready
    expect(l.hidden()).toEqual(['25'])
    l.hear(added(post(25)))
    expect(l.hidden()).toEqual([])
    expect(l.pending()).toEqual([])
  })

  it('never shows again a post a `gone` message removed', () => {
    const l = list()
    l.page(span(30, 21))
    l.hear(goneEv(25, 'removed'))
    l.hear(snapshot(span(30, 11).filter((p) => p.id !== '25')))
    l.hear(snapshot(span(30, 11)))
    expect(l.hidden()).toEqual(['25'])
  })

  it('takes posts waiting behind the bar off it too', () => {
    const l = list()
    l.page(span(30, 21))
    l.hear(added(post(31)))
    l.hear(added(post(32)))
    expect(l.pending()).toEqual(['32', '31'])
    l.hear(snapshot(span(32, 13).filter((p) => p.id !== '31')))
    expect(l.pending()).toEqual(['32'])
  })
})

describe('FeedLive: the Following feed', () => {
  const by = (id: number, author: string): Post => ({ ...post(id), author: { id: author, username: 'u' + author, display_name: 'U', photo_url: null } })

  it('announces new posts of the people followed only, as the list learns whom', () => {
    const followed = new Set(['7'])
    const l = list('', false, (p) => followed.has(p.author.id))
    l.page([by(20, '7'), by(18, '7')])
    l.hear(added(by(21, '7')))
    l.hear(added(by(22, '8'))) // not followed
    expect(l.pending()).toEqual(['21'])
    followed.add('9') // followed meanwhile (the follow button)
    l.hear(added(by(23, '9')))
    expect(l.pending()).toEqual(['23', '21'])
  })

  it('keeps messages heard before the first page until it is in, then filters them', () => {
    const l = list('', false, (p) => p.author.id === '7')
    l.hear(added(by(31, '7')))
    l.hear(added(by(32, '8')))
    l.page([by(30, '7')])
    expect(l.pending()).toEqual(['31'])
  })

  it('hides followed posts that were culled', () => {
    const l = list('', false, (p) => p.author.id === '7')
    l.page([by(20, '7'), by(18, '7')])
    l.hear(goneEv(18))
    expect(l.hidden()).toEqual(['18'])
  })
})
