-- Stage transition requests and how each ended: PENDING, APPROVED, REJECTED or CANCELLED.
-- e.g. the review queue: SELECT * FROM transition_requests WHERE status = 'PENDING'
CREATE OR REPLACE VIEW transition_requests AS
SELECT r.request_id, m.name, r.version, r.stage, r.requested_by, r.requested_at,
       r.comment, r.status, r.resolved_by, r.resolved_at, r.resolution_comment, r.model_id
FROM (
    SELECT key AS request_id,
           max(model_id) AS model_id,
           max(version) AS version,
           max(to_value) FILTER (WHERE action = 'request_transition') AS stage,
           max(user_id) FILTER (WHERE action = 'request_transition') AS requested_by,
           min(timestamp) FILTER (WHERE action = 'request_transition') AS requested_at,
           max(comment) FILTER (WHERE action = 'request_transition') AS comment,
           CASE max_by(action, seq)
               WHEN 'approve_request' THEN 'APPROVED'
               WHEN 'reject_request' THEN 'REJECTED'
               WHEN 'cancel_request' THEN 'CANCELLED'
               ELSE 'PENDING' END AS status,
           max_by(user_id, seq) FILTER (WHERE action <> 'request_transition') AS resolved_by,
           max(timestamp) FILTER (WHERE action <> 'request_transition') AS resolved_at,
           max_by(comment, seq) FILTER (WHERE action <> 'request_transition')
               AS resolution_comment
    FROM lake_registry_log
    WHERE outcome = 'applied'
      AND action IN ('request_transition', 'approve_request', 'reject_request', 'cancel_request')
    GROUP BY key
) AS r
JOIN registered_models AS m ON m.model_id = r.model_id;
