-- Lineage, end to end, as edges from what came first to what was made from it:
--   dataset version --input--> run --logged_model--> model --registered--> version
--   version --alias--> alias, and workflow steps' declared table/artifact inputs and outputs.
-- Nodes are URIs: a Delta version is <table path>@v<N>, another dataset
-- dataset:<name>#<digest>, a run runs:/<id>, a logged model runs:/<id>/<path>, a registered
-- version models:/<name>/<version>, an alias models:/<name>@<alias>.
-- e.g. every run that read version 3 of a table:
--   SELECT dst FROM lineage_edges WHERE src = '/data/customers@v3' AND kind = 'input'
CREATE OR REPLACE VIEW lineage_edges AS
SELECT CASE WHEN source_type = 'delta_table'
                 AND json_extract_string(source, '$.delta_table_version') IS NOT NULL
            THEN json_extract_string(source, '$.path') || '@v'
                 || json_extract_string(source, '$.delta_table_version')
            ELSE 'dataset:' || name || '#' || digest END AS src,
       'runs:/' || run_id AS dst, 'input' AS kind, context AS detail, timestamp AS time
FROM inputs
UNION ALL
SELECT 'runs:/' || run_id AS src, uri AS dst, 'logged_model' AS kind,
       artifact_path AS detail, created_time AS time
FROM logged_models
UNION ALL
SELECT source AS src, 'models:/' || name || '/' || CAST(version AS VARCHAR) AS dst,
       'registered' AS kind, current_stage AS detail, creation_timestamp AS time
FROM model_versions
WHERE source IS NOT NULL
UNION ALL
SELECT 'models:/' || name || '/' || CAST(version AS VARCHAR) AS src,
       'models:/' || name || '@' || alias AS dst, 'alias' AS kind, alias AS detail,
       CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS time
FROM model_aliases
UNION ALL
SELECT CASE WHEN direction = 'input' THEN uri ELSE 'runs:/' || run_id END AS src,
       CASE WHEN direction = 'input' THEN 'runs:/' || run_id ELSE uri END AS dst,
       'workflow_' || direction AS kind, workflow || '.' || step || '.' || name AS detail,
       timestamp AS time
FROM workflow_lineage
WHERE run_id IS NOT NULL AND uri IS NOT NULL;
