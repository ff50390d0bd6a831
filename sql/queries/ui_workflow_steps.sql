-- The web UI's workflow page (lakeml/ui/workflows.py): the latest row of each step of one
-- workflow run (a step run again, one step at a time, has several), with its inputs'
-- upstream steps (from workflow_lineage), which are the DAG's edges.
-- Parameter: $workflow_run_id.
WITH latest AS (
    SELECT * FROM workflow_steps WHERE workflow_run_id = $workflow_run_id
    QUALIFY row_number() OVER (PARTITION BY step ORDER BY end_time DESC) = 1
), upstream AS (
    SELECT step, list(DISTINCT from_step ORDER BY from_step) AS after
    FROM workflow_lineage
    WHERE workflow_run_id = $workflow_run_id AND direction = 'input' AND from_step IS NOT NULL
    GROUP BY step
)
SELECT l.workflow, l.step, l.entry_point, l.status, l.run_id, l.source_run_id, l.cache_key,
       l.error, epoch_ms(l.start_time) AS start_time, epoch_ms(l.end_time) AS end_time,
       coalesce(u.after, []) AS after
FROM latest l LEFT JOIN upstream u USING (step)
ORDER BY l.end_time;
