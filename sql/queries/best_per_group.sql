-- The best run for each value of one param, by one metric (NaN never wins).
-- Parameters: $experiment_id, $metric, $param, $ascending (boolean).
SELECT
    p.value AS group_value,
    r.run_id,
    r.run_name,
    m.value AS metric_value,
    count(*) OVER (PARTITION BY p.value) AS runs_in_group
FROM runs AS r
JOIN latest_metrics AS m ON m.run_id = r.run_id AND m.key = $metric
JOIN params AS p ON p.run_id = r.run_id AND p.key = $param
WHERE r.experiment_id = $experiment_id
  AND r.lifecycle_stage = 'active'
  AND NOT isnan(m.value)
QUALIFY row_number() OVER (
    PARTITION BY p.value
    ORDER BY CASE WHEN $ascending THEN m.value END ASC,
             CASE WHEN NOT $ascending THEN m.value END DESC,
             r.run_id) = 1
ORDER BY group_value;
