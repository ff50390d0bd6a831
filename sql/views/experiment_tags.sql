-- Current tags of each experiment (a deleted tag is a newer row with deleted = true).
CREATE OR REPLACE VIEW experiment_tags AS
SELECT experiment_id, key, value
FROM (
    SELECT experiment_id, key,
           max_by(value, seq) AS value,
           max_by(deleted, seq) AS deleted
    FROM lake_experiment_tags
    GROUP BY experiment_id, key
) AS latest
WHERE NOT deleted;
