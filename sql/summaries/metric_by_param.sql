-- Aggregates of every metric for each value of every param, per experiment (NaN values
-- are counted in runs but left out of the statistics). No parameters.
SELECT
    r.experiment_id,
    e.name AS experiment_name,
    p.key AS param,
    p.value AS param_value,
    m.key AS metric,
    count(*) AS runs,
    avg(m.value) FILTER (WHERE NOT isnan(m.value)) AS mean,
    min(m.value) FILTER (WHERE NOT isnan(m.value)) AS min,
    max(m.value) FILTER (WHERE NOT isnan(m.value)) AS max,
    stddev_samp(m.value) FILTER (WHERE NOT isnan(m.value)) AS stddev
FROM runs AS r
JOIN params AS p ON p.run_id = r.run_id
JOIN latest_metrics AS m ON m.run_id = r.run_id
LEFT JOIN experiments AS e ON e.experiment_id = r.experiment_id
WHERE r.lifecycle_stage = 'active'
GROUP BY r.experiment_id, e.name, p.key, p.value, m.key
ORDER BY experiment_id, param, param_value, metric;
