import { api } from '../api/client'
import type { Post } from '../api/types'
import { liveMark, putPost } from './postStore'

// refreshPosts reads posts again (at most 12), one request each, into the
// store: when polling instead of live, and after a failed action. A post
// that is gone or hidden is left as the store has it.
export async function refreshPosts(ids: string[]): Promise<void> {
  await Promise.all(
    ids.slice(0, 12).map(async (id) => {
      try {
        const since = liveMark()
        putPost(await api<Post>(`/posts/${id}`), since)
      } catch {
        /* gone or hidden: leave it */
      }
    }),
  )
}
