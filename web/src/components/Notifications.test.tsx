import { describe, expect, it, vi } from 'vitest'
import { renderToStaticMarkup } from 'react-dom/server'
import { MemoryRouter } from 'react-router'
import { describe as describeNotification, NotificationItem } from './Notifications'
import type { Notification } from '../api/types'

// The relative time follows a live clock, which a server render has not.
vi.mock('./TimeAgo', () => ({ TimeAgo: ({ iso }: { iso: string }) => <time dateTime={iso}>{iso}</time> }))

function note(kind: string, data: Record<string, unknown>, actor: string | null = null): Notification {
  return { id: '1', kind, actor, data, read: false, created_at: '2026-01-01T00:00:00Z' }
}

const caption = 'Knock knock. Who is there?'

describe('notifications about a post', () => {
  it('name the post by its caption and lead to its page: rated, danger, culled', () => {
    expect(describeNotification(note('rated', { post_id: '42', caption, new_ratings: 3 }))).toEqual({
      text: '3 people rated your post “Knock knock. Who is there?”',
      to: '/p/42',
    })
    expect(describeNotification(note('danger', { post_id: '42', caption, state: 'entered', rank: 2 }))).toEqual({
      text: 'Your post “Knock knock. Who is there?” entered the danger zone!',
      to: '/p/42',
      extra: { text: 'Danger zone', to: '/danger' },
    })
    expect(describeNotification(note('culled', { post_id: '42', caption, run_id: '7' }))).toEqual({
      text: 'Your post “Knock knock. Who is there?” was culled. The community has spoken.',
      to: '/p/42',
    })
  })

  it('say "Your post" when the caption is empty or missing', () => {
    expect(describeNotification(note('danger', { post_id: '42', caption: '', state: 'entered' })).text).toBe('Your post entered the danger zone!')
    expect(describeNotification(note('culled', { post_id: '42' })).text).toBe('Your post was culled. The community has spoken.')
    expect(describeNotification(note('rated', { post_id: '42', caption: '   ', new_ratings: 1 })).text).toBe('1 person rated your post')
  })

  it('say a post left the danger zone when the danger notification says so', () => {
    expect(describeNotification(note('danger', { post_id: '42', caption, state: 'left' }))).toEqual({
      text: 'Your post “Knock knock. Who is there?” is safe again',
      to: '/p/42',
    })
  })

  it('mark a caption cut at 80 characters, and keep it on one line', () => {
    const long = 'ha '.repeat(40).slice(0, 80)
    const d = describeNotification(note('culled', { post_id: '9', caption: long }))
    expect(d.text).toBe(`Your post “${long.trim()}…” was culled. The community has spoken.`)
    expect(describeNotification(note('rated', { post_id: '9', caption: 'line one\nline two', new_ratings: 2 })).text).toBe('2 people rated your post “line one line two”')
  })

  it('link the danger zone only when the post is not known', () => {
    expect(describeNotification(note('danger', { state: 'entered' }))).toEqual({ text: 'Your post entered the danger zone!', to: '/danger', extra: undefined })
  })

  it('render the post link, and the danger zone under it (not inside it, nor squeezing it)', () => {
    const html = renderToStaticMarkup(
      <MemoryRouter>
        <ul>
          <NotificationItem n={note('danger', { post_id: '42', caption: 'Puns <3', state: 'entered' })} />
        </ul>
      </MemoryRouter>,
    )
    // has-extra: the link takes a line of its own (styles.css), the text the width.
    expect(html).toMatch(/^<ul><li class="notif unread has-extra">/)
    expect(html).toMatch(/<a href="\/p\/42"[^>]*><span class="notif-text">Your post “Puns &lt;3” entered the danger zone!<\/span><time[^>]*>[^<]*<\/time><\/a><a class="notif-extra small" href="\/danger"[^>]*>Danger zone<\/a>/)
  })
})
