-- Replay (issue 4): what the reports and the operator's status need beyond 0001's columns.
ALTER TABLE replay_runs
    ADD COLUMN shard_count integer NOT NULL DEFAULT 1,
    ADD COLUMN report      text;

ALTER TABLE replay_results
    ADD COLUMN name        text NOT NULL DEFAULT '',
    ADD COLUMN type        text NOT NULL DEFAULT 'http',
    ADD COLUMN session_id  text NOT NULL DEFAULT '',
    ADD COLUMN reason      text,
    ADD COLUMN steps       jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN endpoints   jsonb NOT NULL DEFAULT '[]'::jsonb;

CREATE INDEX replay_results_outcome ON replay_results (run_id, outcome);
