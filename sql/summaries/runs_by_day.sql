-- Runs started per experiment, UTC day and status. No parameters.
SELECT
    r.experiment_id,
    CAST(r.start_time AS DATE) AS day,
    r.status,
    count(*) AS runs
FROM runs AS r
WHERE r.lifecycle_stage = 'active'
GROUP BY r.experiment_id, CAST(r.start_time AS DATE), r.status
ORDER BY experiment_id, day, status;
