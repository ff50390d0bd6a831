-- The web UI's experiments list (lakeml/ui/runs.py): per experiment, its count of active
-- runs and the time of its last run activity (epoch ms).
SELECT experiment_id, count(*) AS runs,
       epoch_ms(max(greatest(start_time, coalesce(end_time, start_time)))) AS last_activity
FROM runs
WHERE lifecycle_stage = 'active'
GROUP BY experiment_id;
