-- Comments on model versions, oldest first per version.
CREATE OR REPLACE VIEW model_version_comments AS
SELECT m.name, c.version, c.key AS comment_id, c.comment, c.user_id, c.timestamp, c.model_id
FROM lake_registry_log AS c
JOIN registered_models AS m ON m.model_id = c.model_id
WHERE c.outcome = 'applied' AND c.action = 'comment';
