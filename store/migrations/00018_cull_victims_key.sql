-- +goose NO TRANSACTION
-- +goose Up
-- The cull's transaction appends its victims to cull_victims, and that
-- insert was about half of it: three indexes, the primary key (run_id,
-- post_id), (run_id, rank) and (post_id). Rows go in in post id order, so
-- the rank index took them at random places: 100,000 victims cost about
-- 700 ms with it, 400 ms without (docs/benchmarks.md, ninth round). A
-- run's ranks are unique (each is a place on the board: the cull has
-- always numbered them with row_number), so (run_id, rank) is the key,
-- and the third index goes. Settling finds a run's victims by that key;
-- what asks by post (is it a pending victim? where did it fall?) keeps
-- cull_victims_post_idx.
--
-- Every read of a post's status probes cull_victims (store.CullPending),
-- and the table keeps every run's victims, so the new key is built
-- concurrently (outside a transaction: reads and culls go on) and then
-- swapped in, which locks the table only for the swap. Run again after a
-- failure half-way, each step finds what the last one left.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS cull_victims_run_rank_key ON cull_victims (run_id, rank);
ALTER TABLE cull_victims DROP CONSTRAINT cull_victims_pkey,
    ADD CONSTRAINT cull_victims_pkey PRIMARY KEY USING INDEX cull_victims_run_rank_key;
DROP INDEX CONCURRENTLY IF EXISTS cull_victims_rank_idx;

-- +goose Down
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS cull_victims_run_post_key ON cull_victims (run_id, post_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cull_victims_rank_idx ON cull_victims (run_id, rank);
ALTER TABLE cull_victims DROP CONSTRAINT cull_victims_pkey,
    ADD CONSTRAINT cull_victims_pkey PRIMARY KEY USING INDEX cull_victims_run_post_key;
