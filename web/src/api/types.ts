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
  // change and every change of its status raises), so that older figures
  // arriving late (several publishers, several nodes, a REST answer read
  // before a live message) cannot overwrite newer ones. Every Post the
  // server sends carries it — REST answers, the post:<id> snapshot and
  // every other Post in live messages — and live `stats` messages carry the
  // same number as `version`. Of two copies, the larger one has the newer
  // stats (postStore.putPost, merge.applyPostEvent). The client still
  // copes with a copy without it (a server older than the field, during a
  // rolling upgrade): such a copy loses only to stats heard live since it
  // was requested (postStore.liveMark).
  stats_version: number
  // The version of `reactions`, which every change of them raises. Every
  // Post carries it (REST and snapshots), and live `reactions` messages
  // carry it as `version`: each change sends its own, and concurrent ones
  // can arrive out of order, so an older copy or message must not
  // overwrite newer counts (merge.applyPostEvent, postStore.putPost).
  reactions_version: number
  // The version of `comment_count`, which every comment added or deleted
  // raises. Every Post carries it, and live `comment` and `comment_deleted`
  // messages carry it as `comments_version`, with the count their change
  // left: a message no newer than the count held is already in it (a post
  // read after the comment, or the same message twice), and an older copy
  // must not undo a newer count (merge.applyPostEvent, postStore.putPost).
  comments_version: number
}

// GET /api/v1/posts/rules: what a post may be on this server.
export type MediaFormat = PostMedia['format']
export interface PostRules {
  max_bytes: number
  max_pixels: number
  max_gif_frames: number
  // As the server sniffs them from the bytes; mp4 and webm only when videos.
  formats: MediaFormat[]
  // false where the server has no ffmpeg.
  videos: boolean
  // 0 when videos are not taken.
  max_video_seconds: number
  max_caption_chars: number
  max_comment_chars: number
  max_tags: number
  max_tag_chars: number
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
