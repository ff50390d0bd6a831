"""``lakeml import mlflow SOURCE`` and ``lakeml export mlflow --to URI``: move an MLflow store
into a lakeml store, and back."""

from __future__ import annotations

import argparse
import sys

from lakeml.cli.args import at_least, group
from lakeml.cli.format import render


def cmd_import_mlflow(args: argparse.Namespace) -> str:
    from lakeml.cli.args import store_uri
    from lakeml.errors import InvalidState
    from lakeml.migrate import import_mlflow, verify
    from lakeml.migrate.importer import summary_rows

    store = store_uri(args)
    summary = import_mlflow(args.source, store, artifact_root=args.artifact_root,
                            batch_runs=args.batch_runs, max_runs=args.max_runs,
                            copy_artifacts=not args.no_artifacts)
    out = render(["imported", "count"], summary_rows(summary), args.format)
    out += (f"\nimported from {summary.source} into {summary.store} in "
            f"{summary.seconds:.1f} s" if args.format == "table" else "")
    if not args.verify:
        return out
    figures, differences = verify(args.source, store, batch_runs=args.batch_runs)
    out += "\n" + render(["figure", "mlflow", "lakeml", "same"],
                         [(k, a, b, a == b) for k, (a, b) in figures.items()], args.format)
    if differences:
        print(out)
        sys.stdout.flush()
        raise InvalidState(f"--verify found {len(differences)} difference(s): "
                           + "; ".join(map(str, differences)))
    return out


def cmd_export_mlflow(args: argparse.Namespace) -> str:
    from lakeml.cli.args import store_uri
    from lakeml.migrate.exporter import export_mlflow

    summary = export_mlflow(store_uri(args), args.to, batch_runs=args.batch_runs,
                            copy_artifacts=not args.no_artifacts)
    out = render(["exported", "count"], summary.rows(), args.format)
    return out + (f"\nexported {summary.store} to {summary.target} in {summary.seconds:.1f} s"
                  if args.format == "table" else "")


def _add_export(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    exports = group(sub, "export", "export the lakeml store to another platform")
    p = exports.add_parser(
        "mlflow", parents=[common],
        help="export to an MLflow file store folder (ids kept) or a running MLflow server: "
             "experiments, runs, params, metric histories, tags, datasets, artifacts and the "
             "registry; a second export adds nothing",
        description="Export --store to the MLflow tracking URI --to. Runs already exported "
                    "and unchanged since are skipped.")
    p.add_argument("--to", required=True, help="MLflow tracking URI: a folder (./mlruns, "
                   "file:///path) or a server (http://host:port)")
    p.add_argument("--batch-runs", type=at_least(1), default=500,
                   help="runs per batch (default 500)")
    p.add_argument("--no-artifacts", action="store_true",
                   help="copy no artifact files (records only)")
    p.set_defaults(func=cmd_export_mlflow)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``import`` and ``export`` command groups (``import mlflow``, ``export mlflow``)."""
    _add_export(sub, common)
    imports = group(sub, "import", "import another platform's store into lakeml")
    p = imports.add_parser(
        "mlflow", parents=[common],
        help="import an MLflow store (a sqlite, PostgreSQL or MySQL database, an mlruns folder "
             "or a server): experiments, "
             "runs with ids kept, params, metric histories, tags, datasets, artifacts, logged "
             "models and the registry; idempotent and resumable",
        description="Import an MLflow tracking store into --store. Running it again adds only "
                    "what is new or changed in MLflow; an interrupted import continues.")
    p.add_argument("source", help="MLflow tracking URI: sqlite:///path/mlflow.db, "
                                  "postgresql://user:pw@host/db, mysql://user:pw@host/db "
                                  "(pip install 'lakeml[mlflow-db]'), a file store folder "
                                  "(./mlruns) or http(s)://server")
    p.add_argument("--artifact-root", help="where MLflow's artifacts are, if not where it "
                   "recorded them (<root>/<experiment id>/<run id>/artifacts)")
    p.add_argument("--verify", action="store_true", help="then compare counts and checksums "
                   "of params and metric values on both sides; exit 1 on any difference")
    p.add_argument("--batch-runs", type=at_least(1), default=2000,
                   help="runs per committed batch (default 2000)")
    p.add_argument("--max-runs", type=at_least(0), default=None,
                   help="import at most this many runs now; the next import continues")
    p.add_argument("--no-artifacts", action="store_true",
                   help="copy no artifact files (records only)")
    p.set_defaults(func=cmd_import_mlflow)
