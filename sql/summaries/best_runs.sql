-- The best $top runs of every experiment by every metric: lowest value first, highest
-- first for the metric keys listed in $maximize. NaN never ranks; ties go to the
-- smaller run_id. Parameters: $top (integer), $maximize (list of metric keys).
SELECT experiment_id, experiment_name, metric, rank, run_id, run_name, value, status,
       start_time
FROM (
    SELECT
        r.experiment_id,
        e.name AS experiment_name,
        m.key AS metric,
        r.run_id,
        r.run_name,
        m.value,
        r.status,
        r.start_time,
        row_number() OVER (
            PARTITION BY r.experiment_id, m.key
            ORDER BY CASE WHEN list_contains($maximize, m.key) THEN -m.value ELSE m.value END,
                     r.run_id) AS rank
    FROM runs AS r
    JOIN latest_metrics AS m ON m.run_id = r.run_id
    LEFT JOIN experiments AS e ON e.experiment_id = r.experiment_id
    WHERE r.lifecycle_stage = 'active'
      AND NOT isnan(m.value)
) AS ranked
WHERE rank <= $top
ORDER BY experiment_id, metric, rank;
