// Document titles of pages that show one thing, and "Not found" when the
// server says it is not there.

import type { Post, Profile } from '../api/types'

interface Failed {
  status: number
}

const NOT_FOUND_TITLE = 'Not found'

export function postTitle(id: string, post: Pick<Post, 'caption'> | undefined, error: Failed | null): string {
  if (post) return post.caption.slice(0, 60) || `Post ${id}`
  if (error?.status === 404) return NOT_FOUND_TITLE
  return 'Post'
}

export function profileTitle(username: string, profile: Pick<Profile, 'display_name' | 'username'> | null, error: Failed | null): string {
  if (error?.status === 404) return NOT_FOUND_TITLE
  if (profile && profile.username.toLowerCase() === username.toLowerCase()) return `${profile.display_name} (@${profile.username})`
  return username
}
