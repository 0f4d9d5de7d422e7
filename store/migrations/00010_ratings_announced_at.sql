-- +goose Up
-- A rating withdrawn before its author heard of it is not announced: rate
-- and withdraw within the minute, and the author was told of "1 new
-- rating" that no longer existed. A withdrawal takes one off the count of
-- ratings not yet announced when the rating is newer than the post's last
-- announcement (NotifyRatings stamps it).
ALTER TABLE posts ADD COLUMN ratings_announced_at timestamptz;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ratings_stats() RETURNS trigger LANGUAGE plpgsql AS $$
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
        unannounced_ratings = greatest(0, unannounced_ratings + CASE
            WHEN TG_OP = 'INSERT' THEN 1
            WHEN TG_OP = 'DELETE' AND OLD.created_at >= coalesce(ratings_announced_at, '-infinity') THEN -1
            ELSE 0 END)
        WHERE id = pid;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ratings_stats() RETURNS trigger LANGUAGE plpgsql AS $$
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
-- +goose StatementEnd
ALTER TABLE posts DROP COLUMN ratings_announced_at;
