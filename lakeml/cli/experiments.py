"""``lakeml experiments …``: list, create or delete experiments."""

from __future__ import annotations

import argparse

from lakeml.cli.args import client as _client
from lakeml.cli.args import group
from lakeml.cli.format import ms_to_iso, render
from lakeml.cli.runs import experiment_id


def cmd_experiments_list(args: argparse.Namespace) -> str:
    from lakeml.tracking.experiments import every_experiment

    exps = every_experiment(_client(args, read=True), args.view, order_by=["creation_time ASC"])
    rows = [(e.experiment_id, e.name, e.lifecycle_stage, ms_to_iso(e.creation_time),
             e.artifact_location) for e in exps]
    return render(["experiment_id", "name", "lifecycle_stage", "creation_time",
                   "artifact_location"], rows, args.format)


def cmd_experiments_create(args: argparse.Namespace) -> str:
    exp_id = _client(args).create_experiment(args.name, args.artifact_location)
    return render(["experiment_id", "name"], [(exp_id, args.name)], args.format)


def cmd_experiments_delete(args: argparse.Namespace) -> str:
    client = _client(args)
    exp_id = experiment_id(client, args.experiment)
    client.delete_experiment(exp_id)
    return render(["experiment_id", "lifecycle_stage"], [(exp_id, "deleted")], args.format)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``experiments`` group: list, create, delete."""
    views = ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]

    exps_sub = group(sub, "experiments", "list, create or delete experiments")
    p = exps_sub.add_parser("list", parents=[common], help="experiments, oldest first")
    p.add_argument("--view", default="ACTIVE_ONLY", choices=views)
    p.set_defaults(func=cmd_experiments_list)
    p = exps_sub.add_parser("create", parents=[common], help="create an experiment; print its id")
    p.add_argument("name")
    p.add_argument("--artifact-location", help="where its runs' artifacts go "
                   "(default: under the store)")
    p.set_defaults(func=cmd_experiments_create)
    p = exps_sub.add_parser("delete", parents=[common],
                            help="mark an experiment and its runs deleted")
    p.add_argument("experiment", help="experiment name or id")
    p.set_defaults(func=cmd_experiments_delete)
