-- +goose Up
-- The front of the danger zone (its cycle and size, the safe score and its
-- first posts, as the zone's first page shows them) as last announced on
-- the `danger` channel. Every process that checks the zone compares with
-- this one row, under the danger check's lock and in the transaction that
-- updates cull_danger, so a change is announced once however many
-- processes check, and a restarted process neither announces an unchanged
-- front again nor misses one that moved while it was down.
CREATE TABLE cull_danger_front (
    id         boolean     PRIMARY KEY DEFAULT true CHECK (id),  -- one row
    front      text        NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE cull_danger_front;
