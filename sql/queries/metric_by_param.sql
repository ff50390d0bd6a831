-- Aggregates of one metric for each value of one param (for dashboards).
-- Parameters: $experiment_id, $metric, $param.
SELECT
    p.value AS group_value,
    count(*) AS runs,
    avg(m.value) FILTER (WHERE NOT isnan(m.value)) AS mean,
    min(m.value) FILTER (WHERE NOT isnan(m.value)) AS min,
    max(m.value) FILTER (WHERE NOT isnan(m.value)) AS max,
    stddev_samp(m.value) FILTER (WHERE NOT isnan(m.value)) AS stddev
FROM runs AS r
JOIN latest_metrics AS m ON m.run_id = r.run_id AND m.key = $metric
JOIN params AS p ON p.run_id = r.run_id AND p.key = $param
WHERE r.experiment_id = $experiment_id
  AND r.lifecycle_stage = 'active'
GROUP BY p.value
ORDER BY group_value;
