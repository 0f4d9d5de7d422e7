// Types of the REST API (api/openapi.yaml is the contract). Only what the UI
// reads is typed; unknown fields are ignored, as the contract asks.

export type Id = string

export interface Page<T> {
  items: T[]
  next_cursor: string | null
}

export interface ApiErrorBody {
  error: { code: string; message: string; fields?: Record<string, string> }
}

export interface Session {
  access_token: string
  refresh_token: string
  expires_in: number
  token_type: 'Bearer'
}

export interface Profile {
  id: Id
  username: string
  display_name: string
  about: string
  country: string
  city: string
  photo_url: string | null
  followers_count: number
  following_count: number
  created_at: string
  followed_by_me?: boolean
}

export interface AuthorStats {
  posts: number
  laughs_received: number
  best_rank: number | null
  // The cull: posts that faced a cull and are still up, posts culled.
  posts_survived?: number
  posts_culled?: number
  [key: string]: unknown
}

export interface ProfileWithStats extends Profile {
  stats: AuthorStats
}

export interface Me {
  id: Id
  username: string
  email: string
  email_verified: boolean
  is_admin: boolean
  created_at: string
  profile: Profile
}

export interface Author {
  id: Id
  username: string
  display_name: string
  photo_url: string | null
}

export interface PostMedia {
  url: string
  thumb_url: string | null
  poster_url: string | null
  format: 'jpeg' | 'png' | 'gif' | 'webp' | 'mp4' | 'webm'
  width: number | null
  height: number | null
  duration_ms: number | null
}

export type Histogram = Record<'1' | '2' | '3' | '4' | '5', number>

export interface PostStats {
  count: number
  average: number
  laughs: number
  histogram: Histogram
  score_top: number
  score_hot: number
}

export type PostStatus = 'processing' | 'ready' | 'failed' | 'culled' | 'removed'

export const REACTIONS = [
  ['laugh', '😂'],
  ['rofl', '🤣'],
  ['skull', '💀'],
  ['fire', '🔥'],
  ['clap', '👏'],
  ['eyes', '👀'],
] as const
export type ReactionKind = (typeof REACTIONS)[number][0]

// What the cull issue adds to a culled post; every field optional until the
// cull API lands.
export interface CullInfo {
  at?: string
  run_id?: Id | number
  cycle?: number
  rank?: number
  score?: number
}

export interface Post {
  id: Id
  author: Author
  caption: string
  tags: string[]
  kind: 'text' | 'image' | 'gif' | 'video'
  status: PostStatus
  failure?: string
  media: PostMedia | null
  duplicate_of: Id | null
  comment_count: number
  reactions: Partial<Record<ReactionKind, number>>
  my_reactions: ReactionKind[]
  created_at: string
  updated_at: string
  removed: { at: string; reason: string } | null
  stats: PostStats
  ranks: Partial<Record<'hot' | 'top' | 'top_day' | 'top_week', number>> & Record<string, number>
  my_rating: number | null
  culled?: CullInfo | null
  viewers?: number
  // The version of `stats` (the post's rank version, which every rating
  // change raises), so that older figures arriving late (several
  // publishers, several nodes) cannot overwrite newer ones. Live `stats`
  // messages carry it as `version`; the REST API and the post:<id>
  // snapshot do not send it (yet): when they do, under this name, the
  // client compares it too (postStore.putPost, merge.applyPostEvent).
  stats_version?: number
  // The version of `reactions`, which every change of them raises. Live
  // `reactions` messages carry it as `version`: each change sends its own,
  // and concurrent ones can arrive out of order, so an older one must not
  // overwrite newer counts (merge.applyPostEvent). The REST API and the
  // post:<id> snapshot do not send it (yet); a copy that does, under this
  // name, is compared too.
  reactions_version?: number
}

export interface Comment {
  id: Id
  post_id: Id
  author: Author
  body: string
  created_at: string
}

export interface Creator extends Profile {
  laughs: number
}

export interface BoardItem {
  rank: number
  score: number
  post?: Post
  creator?: Creator
}

export interface Notification {
  id: Id
  kind: string
  actor: string | null
  data: Record<string, unknown>
  read: boolean
  created_at: string
}
