"""Monitor a registered model's logged traffic with Spark, for logs beyond one machine.

    spark-submit --jars "$(lakeml spark-jars)" jobs/monitor.py --store /data/lake \
        --model models:/churn@champion --window 1d --since 7d

The same computation as ``lakeml monitor run`` (lakeml.data.monitor.run_monitor): only
the counting of each window's values into the baseline's bins, and the join of labels
to predictions, run on Spark (executors count their partitions with the same numpy
code and Spark sums the counts), so both engines give the same numbers on the same
data. Exits 3 when a statistic alerts.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

ALERT_EXIT = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="monitor.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="the store holding inference_log")
    parser.add_argument("--model", required=True, help="models:/NAME@ALIAS or NAME/VERSION")
    parser.add_argument("--baseline", default="training")
    parser.add_argument("--window", default="1d")
    parser.add_argument("--since")
    parser.add_argument("--until")
    parser.add_argument("--threshold", action="append", metavar="STAT=VALUE")
    parser.add_argument("--min-rows", type=int, default=100)
    parser.add_argument("--no-write", action="store_true", help="print, do not append")
    return parser.parse_args(argv)


def spark_counter(spark: Any, store_uri: str) -> Any:
    """A window counter (see lakeml.data.monitor.windows) reading the log with Spark."""
    from lakeml.data.monitor.windows import count_windows_arrow, from_long, to_long
    from lakeml.spark.session import spark_path
    from lakeml.store import open_tables

    def count(files: list[str], reference: Any, *, model_name: str, model_version: Any,
              width_us: int, since_us: Any, until_us: Any, log_columns: set[str]) -> list:
        import pyarrow as pa
        from pyspark.sql import functions as F

        if not files:
            return []
        path = spark_path(open_tables.table_uri(store_uri, open_tables.INFERENCE_LOG))
        frame = _filtered(spark.read.format("delta").load(path), model_name, model_version,
                          since_us, until_us)
        wanted = sorted({ref.log_column for ref in reference.columns.values()} & log_columns)
        frame = frame.select(F.unix_micros("time").alias("time"), *[F.col(f"`{c}`")
                                                                     for c in wanted])

        def partial(batches: Any) -> Any:
            for batch in batches:
                rows = to_long(count_windows_arrow(pa.Table.from_batches([batch]), reference,
                                                   width_us=width_us))
                if rows:
                    start, name, key, n = zip(*rows)
                    yield pa.RecordBatch.from_arrays(
                        [pa.array(start, pa.int64()), pa.array(name, pa.string()),
                         pa.array(key, pa.string()), pa.array(n, pa.int64())],
                        names=["w", "column", "key", "n"])

        long = frame.mapInArrow(partial, "w long, column string, key string, n long") \
            .groupBy("w", "column", "key").agg(F.sum("n").alias("n")).collect()
        return from_long([(r.w, r.column, r.key, r.n) for r in long], reference, width_us)

    return count


def spark_pairs(spark: Any, store_uri: str) -> Any:
    """Labelled (label, prediction) pairs per window, joined by Spark."""
    import numpy as np

    from lakeml.spark.session import spark_path
    from lakeml.store import open_tables

    def pairs(log_files: list[str], label_files: list[str], *, model_name: str,
              model_version: Any, width_us: int, since_us: Any, until_us: Any) -> dict:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        if not log_files or not label_files:
            return {}
        log = _filtered(spark.read.format("delta").load(spark_path(open_tables.table_uri(
            store_uri, open_tables.INFERENCE_LOG))), model_name, model_version, since_us,
            until_us)
        labels = spark.read.format("delta").load(spark_path(open_tables.table_uri(
            store_uri, open_tables.INFERENCE_LABELS))).where(F.col("model_name") == model_name)
        latest = Window.partitionBy("request_id", "row").orderBy(F.col("time").desc())
        labels = labels.withColumn("_n", F.row_number().over(latest)).where("_n = 1")
        joined = log.join(labels.select("request_id", "row", "label"), ["request_id", "row"]) \
            .where(F.col("prediction").isNotNull() & F.col("label").isNotNull()) \
            .select((F.floor(F.unix_micros("time") / width_us) * width_us).cast("long")
                    .alias("w"), "label", F.col("prediction").alias("p")).collect()
        if not joined:
            return {}
        w = np.array([r.w for r in joined])
        label = np.array([r.label for r in joined])
        predicted = np.array([r.p for r in joined])
        return {int(k): (label[w == k], predicted[w == k]) for k in np.unique(w)}

    return pairs


def _filtered(frame: Any, model_name: str, model_version: Any, since_us: Any,
              until_us: Any) -> Any:
    from pyspark.sql import functions as F

    frame = frame.where((F.col("status") == 200) & (F.col("model_name") == model_name))
    if model_version is not None:
        frame = frame.where(F.col("model_version") == int(model_version))
    if since_us is not None:
        frame = frame.where(F.unix_micros("time") >= int(since_us))
    if until_us is not None:
        frame = frame.where(F.unix_micros("time") < int(until_us))
    return frame


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    args = parse_args(argv)
    import lakeml
    import lakeml.spark
    from lakeml.data.monitor import run_monitor
    from lakeml.data.monitor.metrics import parse_thresholds
    from lakeml.progress import phase

    lakeml.set_store(args.store)
    if spark is None:
        with phase("starting Spark"):
            spark = lakeml.spark.session("lakeml-monitor")
    result = run_monitor(args.model, baseline=args.baseline, window=args.window,
                         since=args.since, until=args.until,
                         thresholds=parse_thresholds(args.threshold), min_rows=args.min_rows,
                         store=args.store, counter=spark_counter(spark, args.store),
                         pairer=spark_pairs(spark, args.store), write=not args.no_write)
    print(f"{result.model_name} v{result.model_version}: {result.windows} window(s), "
          f"{len(result.rows)} statistics, {len(result.alerts)} alert(s)", flush=True)
    for row in result.alerts:
        print(f"ALERT {row['feature']}: {row['statistic']} = {row['value']:.4g} "
              f"(threshold {row['threshold']:g})", flush=True)
    return ALERT_EXIT if result.alerts else 0


if __name__ == "__main__":
    sys.exit(main())
