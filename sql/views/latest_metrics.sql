-- MLflow's "latest" value of each metric: highest step, then newest timestamp,
-- then largest value.
CREATE OR REPLACE VIEW latest_metrics AS
SELECT run_id, key, value, step, timestamp
FROM (
    SELECT run_id, key, value, step, timestamp,
           row_number() OVER (PARTITION BY run_id, key
                              ORDER BY step DESC, timestamp DESC, value DESC) AS rank_in_key
    FROM lake_metrics
) AS ranked
WHERE rank_in_key = 1;
