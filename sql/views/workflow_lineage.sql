-- Workflow lineage: every declared input and output of every step run, with its
-- content digest (a Delta table's uri is <path>@v<N>, the exact version read or
-- written); an input made by another step names it in from_step/from_output.
-- e.g. which step run produced a Delta table, and from which inputs:
--   SELECT o.step, o.source_run_id, i.name, i.uri, i.digest
--   FROM workflow_lineage o JOIN workflow_lineage i
--     ON i.run_id = o.run_id AND i.direction = 'input'
--   WHERE o.direction = 'output' AND o.uri = ?
CREATE OR REPLACE VIEW workflow_lineage AS
SELECT workflow_run_id, workflow, step, run_id, source_run_id, direction, name, kind, uri,
       digest, from_step, from_output, timestamp
FROM lake_workflow_lineage;
