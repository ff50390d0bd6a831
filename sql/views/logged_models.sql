-- Every model logged with log_model: its run, where it lives, its flavors and signature.
-- e.g. runs that produced LightGBM models:
--   SELECT run_id FROM logged_models WHERE list_contains(flavors, 'lightgbm')
CREATE OR REPLACE VIEW logged_models AS
SELECT model_uuid, run_id, artifact_path, flavors, loader_module, signature, size_bytes,
       uri, artifact_uri, lakeml_version, created_time
FROM lake_logged_models;
