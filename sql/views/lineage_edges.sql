-- Lineage, end to end, as edges from what came first to what was made from it:
--   dataset version --input--> run --logged_model--> model --registered--> version
--   version --alias--> alias, and workflow steps' declared table/artifact inputs and outputs;
--   where a model is used: version --scored--> a scoring job's output version (and the
--   input version --scored_input--> that output), and version --inference_log--> its logged
--   traffic, one edge per source (serving, batch) with the rows and first time as detail.
-- Nodes are URIs: a Delta version is <table path>@v<N>, another dataset
-- dataset:<name>#<digest>, a run runs:/<id>, a logged model runs:/<id>/<path>, a registered
-- version models:/<name>/<version>, an alias models:/<name>@<alias>, logged traffic
-- inference_log:<source>/<model name>/<version> (or /<model uri> without a version).
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
WHERE run_id IS NOT NULL AND uri IS NOT NULL
UNION ALL
SELECT model_uri AS src, output AS dst, 'scored' AS kind,
       CAST("rows" AS VARCHAR) || ' rows from ' || input AS detail, "time" AS time
FROM scoring_outputs
UNION ALL
SELECT input AS src, output AS dst, 'scored_input' AS kind, model_uri AS detail,
       "time" AS time
FROM scoring_outputs
UNION ALL
SELECT CASE WHEN model_version IS NULL THEN model_uri
            ELSE 'models:/' || model_name || '/' || CAST(model_version AS VARCHAR) END AS src,
       'inference_log:' || source || '/' || CASE WHEN model_version IS NULL THEN model_uri
            ELSE model_name || '/' || CAST(model_version AS VARCHAR) END AS dst,
       'inference_log' AS kind,
       CAST(count(*) AS VARCHAR) || ' rows since ' || strftime(min("time"), '%Y-%m-%d %H:%M:%S')
           AS detail,
       max("time") AS time
FROM inference_log
WHERE model_uri IS NOT NULL
GROUP BY ALL;
