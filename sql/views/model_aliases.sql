-- Aliases of live registered models: models:/<name>@<alias> resolves through this.
CREATE OR REPLACE VIEW model_aliases AS
SELECT m.name, a.alias, a.version, a.model_id
FROM (
    SELECT model_id, key AS alias, max_by(version, seq) AS version,
           max_by(action, seq) AS last_action
    FROM lake_registry_log
    WHERE outcome = 'applied' AND action IN ('set_alias', 'delete_alias')
    GROUP BY model_id, key
) AS a
JOIN registered_models AS m ON m.model_id = a.model_id
WHERE a.last_action = 'set_alias';
