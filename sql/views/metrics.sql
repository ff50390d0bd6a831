-- The full history of every metric. A point logged twice (same key, value, step
-- and timestamp; NaN equals NaN here) is one point, as in MLflow: the table is
-- append-only, so a retried log call or a second process may write it again.
CREATE OR REPLACE VIEW metrics AS
SELECT DISTINCT run_id, key, value, step, timestamp
FROM lake_metrics;
