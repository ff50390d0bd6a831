-- The web UI's audit history of one model version (lakeml/ui/review.py): every registry
-- event of the version, applied or denied, newest first, across the model's renames (its
-- model_id is followed, as in the server's registry/events). Parameters: $name, $version,
-- $max_results.
SELECT seq, epoch_ms(timestamp) AS timestamp, user_id, action, outcome, version, key,
       from_value, to_value, comment
FROM registry_events
WHERE model_id IN (SELECT model_id FROM registry_events WHERE name = $name)
  AND version = $version
ORDER BY seq DESC
LIMIT $max_results;
