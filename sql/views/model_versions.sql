-- Current model versions of live registered models: stage, source run, where the files are.
-- e.g. what is in Production:
--   SELECT name, version FROM model_versions WHERE current_stage = 'Production'
CREATE OR REPLACE VIEW model_versions AS
SELECT m.name, v.version, v.model_id, v.current_stage, v.description, v.source,
       v.storage_location, v.run_id, v.status, v.user_id,
       v.creation_timestamp, v.last_updated_timestamp
FROM (
    SELECT model_id, version,
           max_by(to_value, seq) FILTER (WHERE action IN ('create_version', 'transition_stage'))
               AS current_stage,
           max_by(description, seq) FILTER (WHERE action IN ('create_version', 'update_version'))
               AS description,
           max(source) FILTER (WHERE action = 'create_version') AS source,
           max(storage_location) FILTER (WHERE action = 'create_version')
               AS storage_location,
           max(run_id) FILTER (WHERE action = 'create_version') AS run_id,
           'READY' AS status,
           max(user_id) FILTER (WHERE action = 'create_version') AS user_id,
           min(timestamp) FILTER (WHERE action = 'create_version') AS creation_timestamp,
           max(timestamp) AS last_updated_timestamp,
           bool_or(action = 'delete_version') AS deleted
    FROM lake_registry_log
    WHERE outcome = 'applied'
      AND action IN ('create_version', 'update_version', 'delete_version', 'transition_stage')
    GROUP BY model_id, version
) AS v
JOIN registered_models AS m ON m.model_id = v.model_id
WHERE NOT v.deleted AND v.creation_timestamp IS NOT NULL;
