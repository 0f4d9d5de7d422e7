-- +goose Up
-- A cull no longer rewrites its victims' posts rows in its transaction.
-- Marking 100,000 scattered posts `culled` in place cost 2–5 s on the
-- benchmark machine (each wide row rewritten with an entry in every index;
-- docs/benchmarks.md), against a goal of 2 s for the whole cull. The cull's
-- transaction now records the victims in cull_victims and nothing else:
-- that record is what makes them culled. A victim of a run that is not yet
-- settled (settled_at NULL) is culled whatever its row says, and every read
-- that asks whether a post is ready asks that too (store.CullPending). The
-- follow-up then marks the rows in batches of a few thousand ("settles" the
-- run) and stamps settled_at, after which the rows say it themselves.
ALTER TABLE cull_runs ADD COLUMN settled_at timestamptz;
UPDATE cull_runs SET settled_at = coalesce(finished_at, started_at);
CREATE INDEX cull_runs_unsettled_idx ON cull_runs (id) WHERE settled_at IS NULL;

-- The question "was this post culled by a run not yet settled?" is asked
-- by post id; so is "where did this post fall?".
CREATE INDEX cull_victims_post_idx ON cull_victims (post_id);

-- The cull records each victim with the rank version its row will have
-- once settled (the version the boards are left at): the board indexes
-- carry the version, so choosing the victims stays an index-only scan and
-- the transaction reads no posts rows at all.
DROP INDEX posts_top_idx, posts_hot_idx;
CREATE INDEX posts_top_idx ON posts (score_top DESC, id DESC) INCLUDE (created_at, rank_version) WHERE status = 'ready';
CREATE INDEX posts_hot_idx ON posts (score_hot DESC, id DESC) INCLUDE (created_at, rank_version) WHERE status = 'ready';

-- +goose Down
DROP INDEX posts_top_idx, posts_hot_idx;
CREATE INDEX posts_top_idx ON posts (score_top DESC, id DESC) INCLUDE (created_at) WHERE status = 'ready';
CREATE INDEX posts_hot_idx ON posts (score_hot DESC, id DESC) INCLUDE (created_at) WHERE status = 'ready';
DROP INDEX cull_victims_post_idx;
UPDATE posts p SET status = 'culled', culled_run_id = v.run_id, culled_rank = v.rank
    FROM cull_victims v JOIN cull_runs r ON r.id = v.run_id
    WHERE r.settled_at IS NULL AND p.id = v.post_id AND p.status = 'ready';
DROP INDEX cull_runs_unsettled_idx;
ALTER TABLE cull_runs DROP COLUMN settled_at;
