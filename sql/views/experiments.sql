-- Current state of each experiment: the latest non-null value of each column.
CREATE OR REPLACE VIEW experiments AS
SELECT
    experiment_id,
    max_by(name, seq) FILTER (WHERE name IS NOT NULL) AS name,
    max_by(artifact_location, seq) FILTER (WHERE artifact_location IS NOT NULL) AS artifact_location,
    max_by(lifecycle_stage, seq) FILTER (WHERE lifecycle_stage IS NOT NULL) AS lifecycle_stage,
    min(creation_time) AS creation_time,
    max(last_update_time) AS last_update_time
FROM lake_experiments
GROUP BY experiment_id;
