-- Current tags of model versions.
CREATE OR REPLACE VIEW model_version_tags AS
SELECT v.name, v.version, t.key, t.value, t.model_id
FROM (
    SELECT model_id, version, key, max_by(value, seq) AS value,
           max_by(action, seq) AS last_action
    FROM lake_registry_log
    WHERE outcome = 'applied' AND action IN ('set_version_tag', 'delete_version_tag')
    GROUP BY model_id, version, key
) AS t
JOIN model_versions AS v ON v.model_id = t.model_id AND v.version = t.version
WHERE t.last_action = 'set_version_tag';
