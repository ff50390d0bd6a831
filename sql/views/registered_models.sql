-- Current registered models (deleted ones left out), folded from the registry's event log.
-- e.g. SELECT name, description FROM registered_models WHERE name LIKE 'device-%'
CREATE OR REPLACE VIEW registered_models AS
SELECT model_id, name, description, creation_timestamp, last_updated_timestamp
FROM (
    SELECT model_id,
           max_by(name, seq) FILTER (WHERE action IN ('create_model', 'rename_model')) AS name,
           max_by(description, seq) FILTER (WHERE action IN ('create_model', 'update_model'))
               AS description,
           min(timestamp) FILTER (WHERE action = 'create_model') AS creation_timestamp,
           max(timestamp) AS last_updated_timestamp,
           bool_or(action = 'delete_model') AS deleted
    FROM lake_registry_log
    WHERE outcome = 'applied'
    GROUP BY model_id
) AS m
WHERE NOT deleted AND creation_timestamp IS NOT NULL;
