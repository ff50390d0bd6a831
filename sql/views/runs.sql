-- Current state of each run: the latest non-null value of each column.
CREATE OR REPLACE VIEW runs AS
SELECT
    run_id,
    max_by(experiment_id, seq) FILTER (WHERE experiment_id IS NOT NULL) AS experiment_id,
    max_by(run_name, seq) FILTER (WHERE run_name IS NOT NULL) AS run_name,
    max_by(user_id, seq) FILTER (WHERE user_id IS NOT NULL) AS user_id,
    max_by(status, seq) FILTER (WHERE status IS NOT NULL) AS status,
    min(start_time) AS start_time,
    max_by(end_time, seq) FILTER (WHERE end_time IS NOT NULL) AS end_time,
    max_by(artifact_uri, seq) FILTER (WHERE artifact_uri IS NOT NULL) AS artifact_uri,
    max_by(lifecycle_stage, seq) FILTER (WHERE lifecycle_stage IS NOT NULL) AS lifecycle_stage,
    max_by(parent_run_id, seq) FILTER (WHERE parent_run_id IS NOT NULL) AS parent_run_id
FROM lake_runs
GROUP BY run_id;
