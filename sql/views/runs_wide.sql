-- One row per run for BI tools: its attributes, its experiment's name, and its latest
-- metrics, params and tags as maps (key -> value; NULL when it has none).
-- e.g. SELECT run_name, metrics['rmse'] AS rmse, params['alpha'] AS alpha
--      FROM runs_wide WHERE experiment_name = 'churn' ORDER BY rmse
CREATE OR REPLACE VIEW runs_wide AS
SELECT r.run_id, r.experiment_id, e.name AS experiment_name, r.run_name, r.user_id, r.status,
       r.start_time, r.end_time, r.lifecycle_stage, r.parent_run_id, r.artifact_uri,
       m.metrics, p.params, t.tags
FROM runs AS r
LEFT JOIN experiments AS e ON e.experiment_id = r.experiment_id
LEFT JOIN (SELECT run_id, map_from_entries(list(struct_pack(k := key, v := value))) AS metrics
           FROM latest_metrics GROUP BY run_id) AS m ON m.run_id = r.run_id
LEFT JOIN (SELECT run_id, map_from_entries(list(struct_pack(k := key, v := value))) AS params
           FROM params GROUP BY run_id) AS p ON p.run_id = r.run_id
LEFT JOIN (SELECT run_id, map_from_entries(list(struct_pack(k := key, v := value))) AS tags
           FROM tags GROUP BY run_id) AS t ON t.run_id = r.run_id;
