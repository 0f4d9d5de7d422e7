-- +goose Up
-- A post's comment_count is read with the post (REST, snapshots) and moved
-- by live `comment` and `comment_deleted` messages, which come in no set
-- order and may be about a comment the count already has: a listener could
-- not tell, and counted comments twice or missed them. Every change now
-- raises the post's comments_version in the trigger that changes the count,
-- under the same row lock, so the version orders counts and messages, as
-- reactions_version (00014) does for reactions.
ALTER TABLE posts ADD COLUMN comments_version bigint NOT NULL DEFAULT 0;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION comments_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE posts SET comment_count = comment_count + 1, comments_version = comments_version + 1
            WHERE id = NEW.post_id;
    ELSE
        UPDATE posts SET comment_count = comment_count - 1, comments_version = comments_version + 1
            WHERE id = OLD.post_id;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION comments_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id;
    ELSE
        UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
ALTER TABLE posts DROP COLUMN comments_version;
