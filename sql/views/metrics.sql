-- The full history of every metric.
CREATE OR REPLACE VIEW metrics AS
SELECT run_id, key, value, step, timestamp
FROM lake_metrics;
