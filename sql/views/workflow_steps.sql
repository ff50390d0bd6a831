-- Each step of each workflow run (lakeml workflow run): its nested run, the run whose
-- work it used (itself, or an earlier run with the same cache key when reused), and
-- status 'executed', 'reused', 'failed' or 'skipped'.
--   SELECT step, status, source_run_id FROM workflow_steps WHERE workflow_run_id = ?
CREATE OR REPLACE VIEW workflow_steps AS
SELECT workflow_run_id, workflow, step, entry_point, run_id, source_run_id, cache_key,
       status, error, start_time, end_time
FROM lake_workflow_steps;
