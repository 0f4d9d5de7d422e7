-- +goose Up
-- Live `reactions` messages carry a post's counts as each change left them.
-- Changes committed close together are announced in no set order (several
-- requests, publishers and nodes), so a listener that kept the last counts
-- it heard could settle on older ones. Every change now raises the post's
-- reactions_version in the trigger that changes the counts, under the
-- same row lock, so the version orders the counts. (xmin would not: a
-- transaction's id is taken at its first write, not when it gets the row.)
ALTER TABLE posts ADD COLUMN reactions_version bigint NOT NULL DEFAULT 0;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION reactions_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE posts SET reaction_counts = jsonb_set(reaction_counts, ARRAY[NEW.kind],
            to_jsonb(coalesce((reaction_counts ->> NEW.kind)::int, 0) + 1)),
            reactions_version = reactions_version + 1 WHERE id = NEW.post_id;
    ELSE
        UPDATE posts SET reaction_counts = CASE
            WHEN coalesce((reaction_counts ->> OLD.kind)::int, 0) <= 1 THEN reaction_counts - OLD.kind
            ELSE jsonb_set(reaction_counts, ARRAY[OLD.kind], to_jsonb((reaction_counts ->> OLD.kind)::int - 1)) END,
            reactions_version = reactions_version + 1
            WHERE id = OLD.post_id;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION reactions_count() RETURNS trigger LANGUAGE plpgsql AS $$
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
ALTER TABLE posts DROP COLUMN reactions_version;
