"""``lakeml maintenance ACTION``: compact, checkpoint or vacuum tables, rebuild
metric_latest or metric_buckets, write the run snapshot, or show each table's status."""

from __future__ import annotations

import argparse

from lakeml.cli.args import client as _client
from lakeml.cli.format import render


def cmd_maintenance(args: argparse.Namespace) -> str:
    from lakeml.progress import phase, steps

    client = _client(args, read=args.action == "status")
    client.flush()
    m = client.store.maintenance
    if args.action == "status":
        return render(["table", "version", "files"],
                      [(s.table, s.version, s.files) for s in m.status(args.table or None)],
                      args.format)
    if args.action == "snapshot":
        from lakeml.query import run_snapshot

        with phase("writing the run snapshot"):
            saved = run_snapshot.write(client.store)
        if saved is None:
            why = "more keys than a snapshot holds: readers load the keys they search"
            return render(["skipped"], [(why,)], args.format)
        return render(["runs", "keys", "file"], [(saved.runs, len(saved.columns), saved.path)],
                      args.format)
    if args.action == "rebuild-buckets":
        with phase("deriving metric_buckets from the metrics history"):
            return render(["buckets_added"], [(m.rebuild_buckets(),)], args.format)
    if args.action == "rebuild-latest":
        with phase("rebuilding metric_latest"):
            return render(["points_added"], [(m.rebuild_latest(),)], args.format)
    tables = args.table or list(client.store.tables)
    done: dict = {}
    for table in steps(tables, args.action, unit="table"):
        if args.action == "compact":
            done.update(m.compact([table]))
        elif args.action == "checkpoint":
            done.update(dict.fromkeys(m.checkpoint([table])))
        else:
            done.update(m.vacuum([table], retention_hours=args.retention_hours,
                                 dry_run=args.dry_run))
    if args.action == "compact":
        rows = [(t, r.get("numFilesRemoved"), r.get("numFilesAdded"), r.get("skipped", ""))
                for t, r in done.items()]
        return render(["table", "files_removed", "files_added", "skipped"], rows, args.format)
    if args.action == "checkpoint":
        return render(["table"], [(t,) for t in done], args.format)
    return render(["table", "files_deleted" if not args.dry_run else "would_delete"],
                  [(t, len(files)) for t, files in done.items()], args.format)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``maintenance`` command."""
    maint = sub.add_parser("maintenance", parents=[common],
                           help="compact, checkpoint, vacuum, rebuild-latest, rebuild-buckets, "
                                "write the "
                                "run snapshot, or show status")
    maint.add_argument("action", choices=["status", "compact", "checkpoint", "vacuum",
                                          "rebuild-latest", "rebuild-buckets", "snapshot"])
    maint.add_argument("--table", action="append", help="limit to this table (repeatable)")
    maint.add_argument("--retention-hours", type=int, default=168,
                       help="vacuum: keep files removed less than this long ago (default 168)")
    maint.add_argument("--dry-run", action="store_true", help="vacuum: only count the files")
    maint.set_defaults(func=cmd_maintenance)
