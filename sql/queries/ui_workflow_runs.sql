-- The web UI's workflows list (lakeml/ui/workflows.py): each workflow run (a parent run
-- whose steps are in workflow_steps), newest first, with its experiment, its parent run's
-- status and counts of its step rows by outcome. Parameter: $max_results.
SELECT s.workflow_run_id, any_value(s.workflow) AS workflow, any_value(r.experiment_id)
       AS experiment_id, any_value(r.status) AS status, any_value(r.run_name) AS run_name,
       epoch_ms(min(coalesce(s.start_time, s.end_time))) AS started,
       count(DISTINCT s.step) AS steps,
       count(*) FILTER (WHERE s.status = 'reused') AS cache_hits
FROM workflow_steps s LEFT JOIN runs r ON r.run_id = s.workflow_run_id
GROUP BY s.workflow_run_id
ORDER BY started DESC
LIMIT $max_results;
