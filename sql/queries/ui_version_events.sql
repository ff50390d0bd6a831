-- The web UI's audit history of one model version (lakeml/ui/review.py): every registry
-- event of the version, applied or denied, newest first. The model is the one that now
-- holds $name (the model_id of the latest applied event naming it: a rename's event
-- names the new name), followed across its renames, never another model that held the
-- name before. Parameters: $name, $version, $max_results.
SELECT seq, epoch_ms(timestamp) AS timestamp, user_id, action, outcome, version, key,
       from_value, to_value, comment
FROM registry_events
WHERE model_id = (SELECT model_id FROM registry_events
                  WHERE name = $name AND outcome = 'applied' AND model_id <> ''
                  ORDER BY seq DESC LIMIT 1)
  AND version = $version
ORDER BY seq DESC
LIMIT $max_results;
