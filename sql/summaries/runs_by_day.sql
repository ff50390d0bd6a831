-- Runs started per experiment, UTC day and status. No parameters.
SELECT
    r.experiment_id,
    e.name AS experiment_name,
    CAST(r.start_time AS DATE) AS day,
    r.status,
    count(*) AS runs
FROM runs AS r
LEFT JOIN experiments AS e ON e.experiment_id = r.experiment_id
WHERE r.lifecycle_stage = 'active'
GROUP BY r.experiment_id, e.name, CAST(r.start_time AS DATE), r.status
ORDER BY experiment_id, day, status;
