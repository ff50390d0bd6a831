"""``lakeml artifacts …``: list or download a run's artifacts."""

from __future__ import annotations

import argparse

from lakeml.cli.args import client as _client
from lakeml.cli.args import group
from lakeml.cli.format import render


def cmd_artifacts_list(args: argparse.Namespace) -> str:
    infos = _client(args, read=True).list_artifacts(args.run_id, args.path)
    return render(["path", "is_dir", "file_size"],
                  [(f.path, f.is_dir, f.file_size) for f in infos], args.format)


def cmd_artifacts_download(args: argparse.Namespace) -> str:
    local = _client(args, read=True).download_artifacts(args.run_id, args.path or "", args.dst)
    return render(["downloaded_to"], [(local,)], args.format)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``artifacts`` group: list, download."""
    arts_sub = group(sub, "artifacts", "list or download a run's artifacts")
    p = arts_sub.add_parser("list", parents=[common], help="files and folders under a path")
    p.add_argument("--run-id", required=True)
    p.add_argument("--path", default=None)
    p.set_defaults(func=cmd_artifacts_list)
    p = arts_sub.add_parser("download", parents=[common], help="copy artifacts to a folder")
    p.add_argument("--run-id", required=True)
    p.add_argument("--path", default="")
    p.add_argument("--dst", default=".", help="local folder to copy into")
    p.set_defaults(func=cmd_artifacts_download)
