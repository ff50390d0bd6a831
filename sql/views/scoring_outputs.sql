-- Batch-scoring jobs (jobs/score.py, lakeml.spark.score_table): which model version scored
-- which input (a Delta table path@v<N>, or files) into which output version, how many rows.
CREATE OR REPLACE VIEW scoring_outputs AS
SELECT * FROM lake_scoring_outputs;
