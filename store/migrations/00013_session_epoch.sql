-- +goose Up
-- Access tokens are JWTs checked without a database round trip, so until
-- they expired they outlived a password change, a reset and a log-out.
-- Every access token now carries its account's session epoch and its
-- session (the refresh-token family it was issued for): a password change
-- or reset bumps the epoch, voiding every token issued before it, and a
-- revoked family voids the tokens of that one session. A counter rather
-- than a time: issue times come from the API nodes' clocks and the change
-- from PostgreSQL's, and a token issued in the same second as the change
-- must neither outlive it nor die with it.
ALTER TABLE users ADD COLUMN session_epoch bigint NOT NULL DEFAULT 0;

-- Which sessions of an account were revoked lately, read (and cached for a
-- few seconds) when its access tokens are checked.
CREATE INDEX refresh_tokens_revoked_idx ON refresh_tokens (user_id, revoked_at) INCLUDE (family)
    WHERE revoked_at IS NOT NULL;

-- The reports someone filed, for their data export and for the cascade
-- that deletes them with the account (which scanned every report).
CREATE INDEX reports_reporter_idx ON reports (reporter_id, id) WHERE reporter_id IS NOT NULL;

-- +goose Down
DROP INDEX reports_reporter_idx, refresh_tokens_revoked_idx;
ALTER TABLE users DROP COLUMN session_epoch;
