-- The inference log: one row per scored input row (serving and batch scoring), with the
-- model's name, version and uuid, latency, status, and one column per model input
-- (input_<name>) and output (prediction, prediction_<name>). Its columns grow as models
-- with new inputs log: the view has the columns of the table's version read.
-- e.g. the p95 latency per model version and hour:
--   SELECT model_name, model_version, date_trunc('hour', "time") AS hour,
--          quantile_cont(latency_ms, 0.95) AS p95_ms, count(*) AS requests
--   FROM inference_log GROUP BY ALL ORDER BY hour
CREATE OR REPLACE VIEW inference_log AS
SELECT * FROM lake_inference_log;
