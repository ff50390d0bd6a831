-- Best runs of one experiment by one metric (lowest first when $ascending);
-- NaN values come after every number, as in MLflow.
-- Parameters: $experiment_id, $metric, $ascending (boolean), $limit.
SELECT
    r.run_id,
    r.run_name,
    r.status,
    m.value AS metric_value,
    r.start_time
FROM runs AS r
JOIN latest_metrics AS m ON m.run_id = r.run_id AND m.key = $metric
WHERE r.experiment_id = $experiment_id
  AND r.lifecycle_stage = 'active'
ORDER BY
    isnan(m.value),
    CASE WHEN $ascending THEN m.value END ASC NULLS LAST,
    CASE WHEN NOT $ascending THEN m.value END DESC NULLS LAST,
    r.run_id
LIMIT $limit;
