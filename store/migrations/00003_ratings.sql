-- +goose Up
-- Ratings and each post's rating statistics. The histogram and version on
-- posts follow the ratings through a trigger, so every way a rating goes
-- (changed, withdrawn, or deleted with its rater's account) keeps them right.

CREATE TABLE ratings (
    post_id    bigint      NOT NULL REFERENCES posts ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    stars      smallint    NOT NULL CHECK (stars BETWEEN 1 AND 5),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX ratings_user_idx ON ratings (user_id);

ALTER TABLE posts
    ADD COLUMN h1 bigint NOT NULL DEFAULT 0,
    ADD COLUMN h2 bigint NOT NULL DEFAULT 0,
    ADD COLUMN h3 bigint NOT NULL DEFAULT 0,
    ADD COLUMN h4 bigint NOT NULL DEFAULT 0,
    ADD COLUMN h5 bigint NOT NULL DEFAULT 0,
    -- Bumped by every change that can move the post on a board (ratings,
    -- status, tags); Redis applies an update only if it is newer.
    ADD COLUMN rank_version bigint NOT NULL DEFAULT 1,
    ADD COLUMN rank_changed_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN score_top double precision,
    ADD COLUMN score_hot double precision,
    -- Ratings not yet told to the author (batched notifications).
    ADD COLUMN unannounced_ratings int NOT NULL DEFAULT 0;
CREATE INDEX posts_rank_changed_idx ON posts (rank_changed_at);
CREATE INDEX posts_top_idx ON posts (score_top DESC, id DESC) WHERE status = 'ready';
CREATE INDEX posts_hot_idx ON posts (score_hot DESC, id DESC) WHERE status = 'ready';

-- +goose StatementBegin
CREATE FUNCTION ratings_stats() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d int[] := ARRAY[0, 0, 0, 0, 0];
    pid bigint;
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        d[OLD.stars] := d[OLD.stars] - 1;
        pid := OLD.post_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        d[NEW.stars] := d[NEW.stars] + 1;
        pid := NEW.post_id;
    END IF;
    UPDATE posts SET h1 = h1 + d[1], h2 = h2 + d[2], h3 = h3 + d[3], h4 = h4 + d[4], h5 = h5 + d[5],
        rank_version = rank_version + 1, rank_changed_at = now(),
        unannounced_ratings = unannounced_ratings + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE 0 END
        WHERE id = pid;
    RETURN NULL;
END $$;

-- Status and tag changes move posts on and off boards.
CREATE FUNCTION posts_rank_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.rank_version := OLD.rank_version + 1;
    NEW.rank_changed_at := now();
    RETURN NEW;
END $$;

CREATE FUNCTION post_tags_rank_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE posts SET rank_version = rank_version + 1, rank_changed_at = now()
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.post_id ELSE NEW.post_id END;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER ratings_stats AFTER INSERT OR DELETE OR UPDATE OF stars ON ratings
    FOR EACH ROW EXECUTE FUNCTION ratings_stats();
CREATE TRIGGER posts_rank_bump BEFORE UPDATE OF status ON posts
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION posts_rank_bump();
CREATE TRIGGER post_tags_rank_bump AFTER INSERT OR DELETE ON post_tags
    FOR EACH ROW EXECUTE FUNCTION post_tags_rank_bump();

-- +goose Down
DROP TRIGGER post_tags_rank_bump ON post_tags;
DROP TRIGGER posts_rank_bump ON posts;
DROP TABLE ratings;
DROP FUNCTION ratings_stats(), posts_rank_bump(), post_tags_rank_bump();
ALTER TABLE posts DROP COLUMN h1, DROP COLUMN h2, DROP COLUMN h3, DROP COLUMN h4, DROP COLUMN h5,
    DROP COLUMN rank_version, DROP COLUMN rank_changed_at, DROP COLUMN score_top, DROP COLUMN score_hot,
    DROP COLUMN unannounced_ratings;
