-- Datasets each run used, once per (run, dataset digest, context).
CREATE OR REPLACE VIEW inputs AS
SELECT run_id, name, digest, context,
       any_value(source_type) AS source_type,
       any_value(source) AS source,
       any_value(schema) AS schema,
       any_value(profile) AS profile,
       min(timestamp) AS timestamp
FROM lake_inputs
GROUP BY run_id, name, digest, context;
