-- The registry's audit trail: every change and every denied attempt, who, when, from, to, why.
-- e.g. who moved what into Production:
--   SELECT timestamp, user_id, name, version FROM registry_events
--   WHERE action = 'transition_stage' AND to_value = 'Production' ORDER BY seq
CREATE OR REPLACE VIEW registry_events AS
SELECT seq, timestamp, user_id, action, outcome, name, version, key, value,
       from_value, to_value, description, source, run_id, comment, model_id
FROM lake_registry_log;
