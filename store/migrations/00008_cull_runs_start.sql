-- +goose Up
-- Whether a cycle has run is asked by the time it was due, whatever the
-- interval of the run (a change of CULL_INTERVAL must not cull twice),
-- on every tick and every danger-zone read.
CREATE INDEX cull_runs_start_idx ON cull_runs (cycle_start);

-- +goose Down
DROP INDEX cull_runs_start_idx;
