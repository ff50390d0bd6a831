-- Params are immutable: one row per (run_id, key), the first one logged.
CREATE OR REPLACE VIEW params AS
SELECT run_id, key, min_by(value, timestamp) AS value
FROM lake_params
GROUP BY run_id, key;
