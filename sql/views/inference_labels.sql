-- Ground truth that arrived after scoring: (request_id, row) of an inference_log row, the
-- model name, the time the label was logged, and the label column(s).
CREATE OR REPLACE VIEW inference_labels AS
SELECT * FROM lake_inference_labels;
