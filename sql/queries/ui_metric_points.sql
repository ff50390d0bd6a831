-- The points of metric $key of the runs $run_ids, for the web UI's charts (lakeml/ui/charts.py),
-- which cut each series down to a few thousand points before sending it. Read from the raw
-- table: neither the metrics view's DISTINCT nor an ORDER BY over millions of points is
-- needed, as a point logged twice changes no minimum or maximum and the caller puts each
-- run's points in order (most often they already are). r is the run's position in $run_ids
-- (from 1), found by a join (a list lookup per point costs as much as reading it); the
-- list_contains is there for the scan, which skips files whose run ids cannot match.
SELECT c.r, m.step, m.value, epoch_ms(m.timestamp) AS timestamp
FROM lake_metrics AS m
JOIN (SELECT unnest($run_ids) AS run_id, generate_subscripts($run_ids, 1)::INTEGER AS r) AS c
  USING (run_id)
WHERE m.key = $key AND list_contains($run_ids, m.run_id);
