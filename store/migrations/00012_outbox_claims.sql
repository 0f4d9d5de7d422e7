-- +goose Up
-- A delivery claims its outbox row for a while before it sends, so that a
-- second run of the same row (asynq re-runs a task whose worker stopped
-- renewing its lease; the re-enqueue job adds one for an old row) waits
-- for the first instead of sending the same message twice.
ALTER TABLE outbox_mail ADD COLUMN claimed_until timestamptz;

-- +goose Down
ALTER TABLE outbox_mail DROP COLUMN claimed_until;
