"""MLflow's side of bench_spark_udf.py: run inside benchmarks/.venv-mlflow, print JSON.

Usage (bench_spark_udf.py does this for you, with PYTHONPATH=benchmarks):
    benchmarks/.venv-mlflow/bin/python benchmarks/mlflow_spark_udf_worker.py '<sizes json>'

The same model, input and timing as lakeml's side (imported from
bench_spark_udf.py); a fresh SQLite tracking store, telemetry off, and a plain
local Spark session with the same settings. Only the final JSON goes to stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                   "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "PYSPARK_PYTHON": sys.executable})

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import mlflow.sklearn  # noqa: E402
from bench_spark_udf import SESSION_CONF, iris_model, time_scoring  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402


def main(sizes: dict[str, int]) -> dict[str, Any]:
    model, X = iris_model()
    tmp = Path(tempfile.mkdtemp(prefix="mlflow-bench-spark-udf-"))
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    exp = mlflow.create_experiment("bench", artifact_location=(tmp / "art").as_uri())
    with mlflow.start_run(experiment_id=exp), contextlib.redirect_stdout(sys.stderr):
        info = mlflow.sklearn.log_model(model, name="model", input_example=X.head(5))
    builder = SparkSession.builder.appName("bench-spark-udf-mlflow")
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            t0 = time.perf_counter()
            udf = mlflow.pyfunc.spark_udf(spark, info.model_uri, result_type="double",
                                          env_manager="local")
            build = time.perf_counter() - t0
            out = time_scoring(spark, udf, sizes["rows"], sizes["partitions"],
                               sizes["repeats"])
    finally:
        spark.stop()
    return {"mlflow_version": mlflow.__version__, "udf_build_s": build, **out}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
