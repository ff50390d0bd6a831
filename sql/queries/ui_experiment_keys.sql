-- The web UI's column chooser (lakeml/ui/runs.py): every metric, param and tag key logged in
-- the runs of the experiments $experiment_ids, with how many rows hold each (for params,
-- the runs that have it), most common first. Read from the raw tables: a distinct count of
-- runs per key over the current-state views costs ten times more at a million runs.
WITH chosen AS (
    SELECT run_id FROM lake_runs WHERE list_contains($experiment_ids, experiment_id)
)
SELECT 'metrics' AS kind, key, count(*) AS n
FROM lake_metric_latest WHERE run_id IN (SELECT run_id FROM chosen) GROUP BY key
UNION ALL
SELECT 'params' AS kind, key, count(*) AS n
FROM lake_params WHERE run_id IN (SELECT run_id FROM chosen) GROUP BY key
UNION ALL
SELECT 'tags' AS kind, key, count(*) AS n
FROM lake_tags WHERE run_id IN (SELECT run_id FROM chosen) GROUP BY key
ORDER BY kind, n DESC, key;
