"""spark_udf benchmark: rows per second scoring 1 M rows with a small model, vs MLflow.

Usage:
    bash benchmarks/setup_mlflow.sh                                   # once
    benchmarks/.venv-mlflow/bin/python -m pip install pyspark==4.0.1  # once: MLflow's side
    .venv/bin/python benchmarks/bench_spark_udf.py [--rows N] [--repeats R] [--no-mlflow]

Both sides: the same LogisticRegression on scikit-learn's iris (4 double
columns), logged with a 5-row input example (so both have a signature) and
scored by its run URI through ``spark_udf(spark, uri, result_type="double")``
called with the 4 column names, ``env_manager="local"``. The input is made in
the JVM (``spark.range`` and ``rand``) so no driver-side data is timed; the
scored column goes to Spark's ``noop`` sink, which evaluates every row and
writes nothing. The same local session settings on both sides (SESSION_CONF,
``local[2]``); each side runs alone. The first run starts the Python workers
and loads the model; the figure is the median of the runs after it. A floor
row times the same query without the UDF. The script reports, never asserts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MLFLOW_PYTHON = HERE / ".venv-mlflow" / "bin" / "python"
MLFLOW_WORKER = HERE / "mlflow_spark_udf_worker.py"
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SESSION_CONF = {
    "spark.master": "local[2]",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.memory": "2g",
}


def iris_model() -> tuple[Any, Any]:
    """The benchmark's model and the frame it was fitted on (both sides build the same)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = COLUMNS
    return LogisticRegression(max_iter=1000).fit(X, y), X


def input_frame(spark: Any, rows: int, partitions: int) -> Any:
    """``rows`` iris-like rows made in the JVM: 4 doubles in iris' ranges."""
    from pyspark.sql import functions as F

    lows, spans = [4.3, 2.0, 1.0, 0.1], [3.6, 2.4, 5.9, 2.4]
    return spark.range(0, rows, numPartitions=partitions).select(
        *[(F.lit(lo) + F.rand(seed=i) * span).alias(c)
          for i, (c, lo, span) in enumerate(zip(COLUMNS, lows, spans))])


def time_scoring(spark: Any, udf: Any, rows: int, partitions: int, repeats: int
                 ) -> dict[str, Any]:
    """Seconds to score ``rows`` rows into the noop sink: first run, then ``repeats`` more."""
    df = input_frame(spark, rows, partitions)

    def run(frame: Any) -> float:
        t0 = time.perf_counter()
        frame.write.format("noop").mode("overwrite").save()
        return time.perf_counter() - t0

    floor = [run(df) for _ in range(2)][-1]  # the JVM warm, the query without the model
    scored = df.select(udf(*COLUMNS).alias("prediction"))
    first = run(scored)
    times = [run(scored) for _ in range(repeats)]
    check = scored.agg({"prediction": "avg"}).collect()[0][0]
    return {"rows": rows, "partitions": partitions, "first_s": first, "times_s": times,
            "median_s": statistics.median(times), "floor_s": floor,
            "rows_per_s": rows / statistics.median(times), "mean_prediction": check}


def run_lakeml(rows: int, partitions: int, repeats: int) -> dict[str, Any]:
    import lakeml
    import lakeml.pyfunc
    import lakeml.sklearn
    import lakeml.spark

    model, X = iris_model()
    lakeml.set_store(tempfile.mkdtemp(prefix="lakeml-bench-spark-udf-"))
    with lakeml.start_run():
        info = lakeml.sklearn.log_model(model, "model", input_example=X.head(5))
    conf = dict(SESSION_CONF)
    spark = lakeml.spark.session("bench-spark-udf", master=conf.pop("spark.master"),
                                 conf=conf)
    try:
        t0 = time.perf_counter()
        udf = lakeml.pyfunc.spark_udf(spark, info.model_uri, result_type="double")
        build = time.perf_counter() - t0
        out = time_scoring(spark, udf, rows, partitions, repeats)
    finally:
        spark.stop()
    return {"lakeml_version": lakeml.__version__, "udf_build_s": build, **out}


def run_mlflow(rows: int, partitions: int, repeats: int) -> dict[str, Any] | None:
    if not MLFLOW_PYTHON.exists():
        print("MLflow side skipped: run bash benchmarks/setup_mlflow.sh", file=sys.stderr)
        return None
    has_spark = subprocess.run([str(MLFLOW_PYTHON), "-c", "import pyspark"],
                               capture_output=True).returncode == 0
    if not has_spark:
        print(f"MLflow side skipped: {MLFLOW_PYTHON} -m pip install pyspark==4.0.1",
              file=sys.stderr)
        return None
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    proc = subprocess.run([str(MLFLOW_PYTHON), str(MLFLOW_WORKER),
                           json.dumps({"rows": rows, "partitions": partitions,
                                       "repeats": repeats})],
                          capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"the MLflow worker failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(lk: dict[str, Any], ml: dict[str, Any] | None) -> None:
    from bench_common import markdown

    def cell(side: dict[str, Any] | None, key: str, fmt: str) -> str:
        return "-" if side is None else fmt.format(side[key])

    body = [
        ["rows per second (median)", cell(lk, "rows_per_s", "{:,.0f}/s"),
         cell(ml, "rows_per_s", "{:,.0f}/s")],
        [f"{lk['rows']:,} rows, median of {len(lk['times_s'])}", cell(lk, "median_s", "{:.2f} s"),
         cell(ml, "median_s", "{:.2f} s")],
        ["first run (workers start, model loads)", cell(lk, "first_s", "{:.2f} s"),
         cell(ml, "first_s", "{:.2f} s")],
        ["same query without the UDF", cell(lk, "floor_s", "{:.2f} s"),
         cell(ml, "floor_s", "{:.2f} s")],
        ["spark_udf() call on the driver", cell(lk, "udf_build_s", "{:.3f} s"),
         cell(ml, "udf_build_s", "{:.3f} s")],
    ]
    versions = f"lakeml {lk['lakeml_version']}" + (f", MLflow {ml['mlflow_version']}" if ml
                                                    else "")
    print(f"\nspark_udf, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
          f"{versions}, Python {platform.python_version()}, {os.cpu_count()} cores, "
          f"{lk['partitions']} partitions\n")
    print(markdown(["figure", "lakeml", "MLflow"], body))
    if ml is not None:
        print(f"\nlakeml scores {lk['rows_per_s'] / ml['rows_per_s']:.2f}x MLflow's rows per "
              f"second. Mean prediction: lakeml {lk['mean_prediction']:.6f}, "
              f"MLflow {ml['mean_prediction']:.6f} (same rows, same model).")
    print("\nraw run times (s): lakeml", [round(t, 2) for t in lk["times_s"]],
          *(["MLflow", [round(t, 2) for t in ml["times_s"]]] if ml else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    lk = run_lakeml(args.rows, args.partitions, args.repeats)
    ml = None if args.no_mlflow else run_mlflow(args.rows, args.partitions, args.repeats)
    report(lk, ml)


if __name__ == "__main__":
    main()
