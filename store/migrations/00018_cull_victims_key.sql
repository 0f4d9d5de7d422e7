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
ALTER TABLE cull_victims DROP CONSTRAINT cull_victims_pkey;
DROP INDEX cull_victims_rank_idx;
ALTER TABLE cull_victims ADD PRIMARY KEY (run_id, rank);

-- +goose Down
ALTER TABLE cull_victims DROP CONSTRAINT cull_victims_pkey;
ALTER TABLE cull_victims ADD PRIMARY KEY (run_id, post_id);
CREATE INDEX cull_victims_rank_idx ON cull_victims (run_id, rank);
