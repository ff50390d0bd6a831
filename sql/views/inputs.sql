-- Datasets each run used: one input per (run, dataset name, digest), as in MLflow.
-- Logging a dataset again (in any context) adds nothing; the first logging counts.
CREATE OR REPLACE VIEW inputs AS
SELECT run_id, name, digest, context, source_type, source, schema, profile, timestamp
FROM lake_inputs
QUALIFY row_number() OVER (PARTITION BY run_id, name, digest
                           ORDER BY timestamp, context NULLS FIRST) = 1;
