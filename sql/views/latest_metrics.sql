-- MLflow's "latest" value of each metric: highest step, then newest timestamp,
-- then largest value. Read from metric_latest (the writer's per-batch latest
-- points), not from the full history: the same answer from far fewer rows.
CREATE OR REPLACE VIEW latest_metrics AS
SELECT run_id, key, value, step, timestamp
FROM lake_metric_latest
QUALIFY row_number() OVER (PARTITION BY run_id, key
                           ORDER BY step DESC, timestamp DESC, value DESC) = 1;
