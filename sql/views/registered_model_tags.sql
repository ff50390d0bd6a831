-- Current tags of registered models.
CREATE OR REPLACE VIEW registered_model_tags AS
SELECT m.name, t.key, t.value, t.model_id
FROM (
    SELECT model_id, key, max_by(value, seq) AS value, max_by(action, seq) AS last_action
    FROM lake_registry_log
    WHERE outcome = 'applied' AND action IN ('set_model_tag', 'delete_model_tag')
    GROUP BY model_id, key
) AS t
JOIN registered_models AS m ON m.model_id = t.model_id
WHERE t.last_action = 'set_model_tag';
