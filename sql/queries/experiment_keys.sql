-- The metric, param and tag keys that the active runs of one experiment hold.
-- Parameters: $experiment_id.
WITH active AS (
    SELECT run_id FROM runs
    WHERE experiment_id = $experiment_id AND lifecycle_stage = 'active'
)
SELECT DISTINCT 'metric' AS kind, key FROM latest_metrics WHERE run_id IN (SELECT run_id FROM active)
UNION
SELECT DISTINCT 'param' AS kind, key FROM params WHERE run_id IN (SELECT run_id FROM active)
UNION
SELECT DISTINCT 'tag' AS kind, key FROM tags WHERE run_id IN (SELECT run_id FROM active)
ORDER BY kind, key;
