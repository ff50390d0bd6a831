-- What lakeml monitor computed: per model version, window and baseline, one row per
-- feature and statistic with its threshold and whether it alerts. A re-run of a window
-- replaces that window's rows. e.g. the alerts of the last day:
--   SELECT model_name, model_version, feature, statistic, value, threshold
--   FROM monitor_metrics WHERE alert AND window_end > now() - INTERVAL 1 DAY
CREATE OR REPLACE VIEW monitor_metrics AS
SELECT * FROM lake_monitor_metrics;
