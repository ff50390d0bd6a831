-- RUNNING runs with the processes that own them (tag lakeml.owner) and their
-- last sign of life: the newest of their start, tag and metric times.
-- Parameters: $owner_tag (the tag key).
SELECT
    r.run_id,
    r.experiment_id,
    r.run_name,
    o.value AS owner,
    epoch_ms(greatest(r.start_time, coalesce(t.last_tag, r.start_time),
                      coalesce(m.last_metric, r.start_time))) AS last_activity_ms
FROM runs AS r
LEFT JOIN tags AS o ON o.run_id = r.run_id AND o.key = $owner_tag
LEFT JOIN (SELECT run_id, max(timestamp) AS last_tag FROM lake_tags GROUP BY run_id) AS t
    ON t.run_id = r.run_id
LEFT JOIN (SELECT run_id, max(timestamp) AS last_metric FROM lake_metric_latest
           GROUP BY run_id) AS m
    ON m.run_id = r.run_id
WHERE r.status = 'RUNNING'
ORDER BY r.run_id;
