-- +goose Up
-- A file an upload stored (or found stored: files are named by content) is
-- claimed until the post that will use it is saved, a few seconds later,
-- or a minute if its caption is slow to arrive. Collectors leave a claimed
-- file alone even if another post that had the same bytes was deleted in
-- between and queued it. A claim ends with its post, or when it runs out.
CREATE TABLE media_claims (
    path  text        PRIMARY KEY,
    until timestamptz NOT NULL
);

-- +goose Down
DROP TABLE media_claims;
