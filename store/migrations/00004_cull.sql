-- +goose Up
-- The cull: every cycle the lowest-ranked posts past their grace period are
-- marked `culled`. Each cycle is one row of cull_runs (unique per cycle, so
-- however many workers try, a cycle runs once); its victims, with their rank
-- and score, are recorded in the same transaction that culls them. The
-- follow-up work (boards, notifications, announcements, media) records its
-- progress on the run, so a lost task is redone without culling again.

CREATE TABLE cull_runs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cycle            bigint      NOT NULL,  -- floor(unix seconds of the cycle's start / interval_s)
    interval_s       int         NOT NULL CHECK (interval_s > 0),
    cycle_start      timestamptz NOT NULL,  -- cycle × interval_s: when the cycle was due
    cutoff           timestamptz NOT NULL,  -- cycle_start − grace: only posts created before it were eligible
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    settings         jsonb       NOT NULL,  -- the settings the run used
    ready            int         NOT NULL DEFAULT 0,  -- ready posts before the cull
    eligible         int         NOT NULL DEFAULT 0,  -- of those, created before the cutoff
    victims          int         NOT NULL DEFAULT 0,
    -- Follow-up steps, each stamped when done (all idempotent).
    boards_done_at   timestamptz,
    announced_at     timestamptz,
    notified_at      timestamptz,
    danger_done_at   timestamptz,
    media_done_at    timestamptz,
    followup_done_at timestamptz,
    -- A cycle number only means something with its interval: keying on
    -- both keeps a change of CULL_INTERVAL from colliding with old cycles.
    UNIQUE (interval_s, cycle)
);
CREATE INDEX cull_runs_recent_idx ON cull_runs (id DESC);
CREATE INDEX cull_runs_followup_idx ON cull_runs (id) WHERE followup_done_at IS NULL;

-- No foreign key to posts: the record of a run outlives a post deleted
-- later (its id, rank and score stay; the post itself is gone). None to
-- cull_runs either: a cull writes up to 10^5 rows here at once and runs are
-- never deleted, so a per-row constraint check would only cost time.
CREATE TABLE cull_victims (
    run_id  bigint           NOT NULL,
    post_id bigint           NOT NULL,
    rank    int              NOT NULL,  -- 1-based place on the board at the cull
    score   double precision NOT NULL,  -- the board score (quantised, as stored)
    files   text[]           NOT NULL DEFAULT '{}',  -- media files the post had, for collection
    PRIMARY KEY (run_id, post_id)
);
CREATE INDEX cull_victims_rank_idx ON cull_victims (run_id, rank);

-- Where a culled post fell (no foreign key, for the same reason).
ALTER TABLE posts
    ADD COLUMN culled_run_id bigint,
    ADD COLUMN culled_rank   int;
-- The cull reads the boards from the bottom up with the creation time of
-- each post (eligibility): the board indexes carry created_at, so that is
-- an index-only scan that stops after the victims (a backward scan gives
-- score ascending, id ascending: the boards' order reversed). Same keys as
-- before, so the ranking's reads are unchanged.
DROP INDEX posts_top_idx, posts_hot_idx;
CREATE INDEX posts_top_idx ON posts (score_top DESC, id DESC) INCLUDE (created_at) WHERE status = 'ready';
CREATE INDEX posts_hot_idx ON posts (score_hot DESC, id DESC) INCLUDE (created_at) WHERE status = 'ready';
-- Ready posts whose scores were never stored (their board update failed);
-- the cull stores them first, so every candidate has a score.
CREATE INDEX posts_unscored_idx ON posts (id) WHERE status = 'ready' AND (score_top IS NULL OR score_hot IS NULL);

-- The danger zone as last announced to authors: a post enters it (and its
-- author is told) when the next cull would take it, and leaves it when it
-- climbs out.
CREATE TABLE cull_danger (
    post_id    bigint           PRIMARY KEY REFERENCES posts ON DELETE CASCADE,
    rank       int              NOT NULL,
    score      double precision NOT NULL,
    entered_at timestamptz      NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE cull_danger;
DROP INDEX posts_unscored_idx, posts_top_idx, posts_hot_idx;
CREATE INDEX posts_top_idx ON posts (score_top DESC, id DESC) WHERE status = 'ready';
CREATE INDEX posts_hot_idx ON posts (score_hot DESC, id DESC) WHERE status = 'ready';
ALTER TABLE posts DROP COLUMN culled_run_id, DROP COLUMN culled_rank;
DROP TABLE cull_victims, cull_runs;
