-- Current tags of each run (a deleted tag is a newer row with deleted = true).
CREATE OR REPLACE VIEW tags AS
SELECT run_id, key, value
FROM (
    SELECT run_id, key,
           max_by(value, seq) AS value,
           max_by(deleted, seq) AS deleted
    FROM lake_tags
    GROUP BY run_id, key
) AS latest
WHERE NOT deleted;
