-- +goose Up
-- A deleted post — deleted by its author or an admin, or by the cascade
-- from its author's account — leaves a tombstone in the same transaction:
-- its id and author. The ranking's reconcile loop reads recent tombstones
-- as it reads recently changed posts, so the post leaves every board and
-- its author's laughs are counted again even if the process that deleted
-- it died before telling Redis, or the cascade told no one. The periodic
-- purge drops tombstones older than a day.
CREATE TABLE post_tombstones (
    post_id    bigint      NOT NULL,
    author_id  bigint      NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX post_tombstones_deleted_idx ON post_tombstones (deleted_at);
CREATE INDEX post_tombstones_post_idx ON post_tombstones (post_id);

-- One statement-level trigger: an account's cascade deletes its posts in
-- one statement, and their tombstones go in with one INSERT.
-- +goose StatementBegin
CREATE FUNCTION posts_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO post_tombstones (post_id, author_id) SELECT id, author_id FROM gone;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER posts_tombstone AFTER DELETE ON posts REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION posts_tombstone();

-- +goose Down
DROP TRIGGER posts_tombstone ON posts;
DROP FUNCTION posts_tombstone();
DROP TABLE post_tombstones;
