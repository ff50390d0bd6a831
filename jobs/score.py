"""Score a Delta or Parquet table with a registered or logged model into a Delta table.

    spark-submit --jars "$(lakeml spark-jars)" jobs/score.py --store /data/lake \
        --model models:/churn@champion --input /data/features --output /data/scores

Every output row keeps the input columns and adds the prediction, the model URI,
the registered model's name and version (resolved once, when the job starts),
the model's uuid, the run that logged it and the time of scoring.
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="score.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="store URI that runs:/ URIs refer to")
    parser.add_argument("--model", required=True, help="models:/<name>/<version|stage>, "
                        "models:/<name>@<alias>, runs:/<run_id>/<path>, a folder or URI")
    parser.add_argument("--input", required=True, help="Delta table or Parquet files to score")
    parser.add_argument("--output", required=True, help="Delta table the scores go to")
    parser.add_argument("--input-format", choices=["delta", "parquet"],
                        help="default: delta when the input has a _delta_log")
    parser.add_argument("--columns", help="comma-separated input columns, in the model's "
                        "order (default: the signature's columns)")
    parser.add_argument("--result-type", default="double", help="e.g. double, long, string")
    parser.add_argument("--prediction-column", default="prediction")
    parser.add_argument("--mode", choices=["append", "overwrite"], default="append")
    parser.add_argument("--log-inferences", action="store_true", help="also append the "
                        "scores to the store's inference_log table (see lakeml monitor)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, spark=None) -> int:
    args = parse_args(argv)
    import lakeml
    import lakeml.spark
    from lakeml.progress import phase
    from lakeml.spark.scoring import score_table

    lakeml.set_store(args.store)
    if spark is None:
        with phase("starting Spark"):
            spark = lakeml.spark.session("lakeml-score")
    with phase(f"scoring {args.input}"):
        rows = score_table(spark, args.model, args.input, args.output,
                           input_format=args.input_format, mode=args.mode,
                           columns=args.columns.split(",") if args.columns else None,
                           result_type=args.result_type,
                           prediction_column=args.prediction_column,
                           log_store=args.store if args.log_inferences else None)
    print(f"{args.output}: {rows} rows after scoring with {args.model}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
