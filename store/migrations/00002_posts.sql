-- +goose Up
-- Posts and their media, tags, comments, reactions, reports, bans, and the
-- queue of media files that may have become unused.

CREATE TABLE posts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id       bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    caption         text        NOT NULL DEFAULT '',
    kind            text        NOT NULL CHECK (kind IN ('text', 'image', 'gif', 'video')),
    status          text        NOT NULL CHECK (status IN ('processing', 'ready', 'failed', 'culled', 'removed')),
    failure         text        NOT NULL DEFAULT '',  -- why processing failed, for the author
    format          text        NOT NULL DEFAULT '',  -- sniffed: jpeg, png, gif, webp, mp4, webm
    original        text        NOT NULL DEFAULT '',  -- files: paths under MEDIA_ROOT
    display         text        NOT NULL DEFAULT '',
    thumb           text        NOT NULL DEFAULT '',
    poster          text        NOT NULL DEFAULT '',
    width           int,
    height          int,
    duration_ms     int,
    size_bytes      bigint,
    phash           bigint,                           -- perceptual hash, for repost detection
    duplicate_of    bigint      REFERENCES posts ON DELETE SET NULL,
    comment_count   int         NOT NULL DEFAULT 0,
    reaction_counts jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    removed_by      bigint      REFERENCES users ON DELETE SET NULL,
    removal_reason  text        NOT NULL DEFAULT ''
);
CREATE INDEX posts_ready_idx ON posts (id DESC) WHERE status = 'ready';
CREATE INDEX posts_author_idx ON posts (author_id, id DESC);
CREATE INDEX posts_processing_idx ON posts (updated_at) WHERE status = 'processing';

CREATE TABLE post_tags (
    post_id bigint NOT NULL REFERENCES posts ON DELETE CASCADE,
    tag     text   NOT NULL,
    PRIMARY KEY (post_id, tag)
);
CREATE INDEX post_tags_tag_idx ON post_tags (tag, post_id DESC);

CREATE TABLE comments (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id    bigint      NOT NULL REFERENCES posts ON DELETE CASCADE,
    author_id  bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_post_idx ON comments (post_id, id);
CREATE INDEX comments_author_idx ON comments (author_id);

CREATE TABLE reactions (
    post_id    bigint      NOT NULL REFERENCES posts ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    kind       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id, kind)
);
CREATE INDEX reactions_user_idx ON reactions (user_id);

-- Counters follow their rows through triggers, so cascades from deleted
-- accounts keep them right.
-- +goose StatementBegin
CREATE FUNCTION comments_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id;
    ELSE
        UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id;
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION reactions_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE posts SET reaction_counts = jsonb_set(reaction_counts, ARRAY[NEW.kind],
            to_jsonb(coalesce((reaction_counts ->> NEW.kind)::int, 0) + 1)) WHERE id = NEW.post_id;
    ELSE
        UPDATE posts SET reaction_counts = CASE
            WHEN coalesce((reaction_counts ->> OLD.kind)::int, 0) <= 1 THEN reaction_counts - OLD.kind
            ELSE jsonb_set(reaction_counts, ARRAY[OLD.kind], to_jsonb((reaction_counts ->> OLD.kind)::int - 1)) END
            WHERE id = OLD.post_id;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER comments_count AFTER INSERT OR DELETE ON comments FOR EACH ROW EXECUTE FUNCTION comments_count();
CREATE TRIGGER reactions_count AFTER INSERT OR DELETE ON reactions FOR EACH ROW EXECUTE FUNCTION reactions_count();

-- A report with no reporter was filed by the system (a suspected repost).
CREATE TABLE reports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id     bigint      NOT NULL REFERENCES posts ON DELETE CASCADE,
    reporter_id bigint      REFERENCES users ON DELETE CASCADE,
    reason      text        NOT NULL,
    note        text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolved_by bigint      REFERENCES users ON DELETE SET NULL,
    resolution  text        NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX reports_once_idx ON reports (post_id, reporter_id) WHERE reporter_id IS NOT NULL;
CREATE INDEX reports_open_idx ON reports (id) WHERE resolved_at IS NULL;

CREATE TABLE bans (
    user_id    bigint      PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    until      timestamptz NOT NULL,
    reason     text        NOT NULL DEFAULT '',
    banned_by  bigint      REFERENCES users ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Media files that may no longer be used. A task deletes each file once no
-- post and no profile refers to it; rows whose task was lost are picked up
-- again by the re-enqueue job.
CREATE TABLE media_garbage (
    path      text        PRIMARY KEY,
    queued_at timestamptz NOT NULL DEFAULT now()
);

-- Whenever a post stops referring to a file (deleted, directly or by the
-- cascade from its author's account; or removed by a moderator), the file
-- is queued for collection, in the same transaction.
-- +goose StatementBegin
CREATE FUNCTION posts_garbage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO media_garbage (path)
    SELECT f FROM unnest(ARRAY[OLD.original, OLD.display, OLD.thumb, OLD.poster]) AS f
    WHERE f <> '' AND (TG_OP = 'DELETE' OR f NOT IN (NEW.original, NEW.display, NEW.thumb, NEW.poster))
    ON CONFLICT (path) DO NOTHING;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER posts_garbage AFTER DELETE OR UPDATE OF original, display, thumb, poster ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_garbage();

-- +goose Down
DROP TABLE media_garbage, bans, reports, reactions, comments, post_tags, posts;
DROP FUNCTION comments_count(), reactions_count(), posts_garbage();
