-- The points of metric $key of the runs $run_ids, for the web UI's charts (lakeml/ui/charts.py),
-- which cut each series down to a few thousand points before sending it. Read from the raw
-- table: neither the metrics view's DISTINCT nor an ORDER BY over millions of points is
-- needed, as a point logged twice changes no minimum or maximum and the caller sorts each
-- run's points (most often already in order). r is the run's position in $run_ids (from 1).
SELECT list_position($run_ids, run_id)::INTEGER AS r, step, value,
       epoch_ms(timestamp) AS timestamp
FROM lake_metrics
WHERE key = $key AND list_contains($run_ids, run_id);
