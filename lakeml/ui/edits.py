"""The UI API's writes to tracking: a run's tags (set, delete) and experiments (create,
rename, delete, restore). Each calls the Client as the API's own routes do, so the same
validation (names, key and value lengths) applies and its error reaches the page as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.ui.args import Args


SYSTEM_PREFIXES = ("mlflow.", "lakeml.")


def _user_key(key: str) -> str:
    """``key``, unless it is a system tag (the run's name, user, source, workflow step...),
    which the platform sets and the page does not edit."""
    if key.startswith(SYSTEM_PREFIXES):
        raise InvalidArgument(f"tag {key!r:.200} is a system tag (mlflow.* and lakeml.* are "
                              "set by lakeml); the page edits the others")
    return key


def set_run_tag(client: Client, args: Args) -> dict[str, Any]:
    """Set tag ``key`` of run ``run_id`` to ``value`` (may be empty)."""
    run_id, key = args.need("run_id"), _user_key(args.need("key"))
    value = args.get("value") or ""
    client.set_tag(run_id, key, value)
    return {"run_id": run_id, "key": key, "value": value}


def delete_run_tag(client: Client, args: Args) -> dict[str, Any]:
    """Delete tag ``key`` of run ``run_id``."""
    run_id, key = args.need("run_id"), _user_key(args.need("key"))
    client.delete_tag(run_id, key)
    return {"run_id": run_id, "key": key}


def create_experiment(client: Client, args: Args) -> dict[str, Any]:
    """Create experiment ``name``; its id."""
    return {"experiment_id": client.create_experiment(args.need("name").strip())}


def rename_experiment(client: Client, args: Args) -> dict[str, Any]:
    """Rename experiment ``experiment_id`` to ``name``."""
    eid = args.need("experiment_id")
    client.rename_experiment(eid, args.need("name").strip())
    return {"experiment_id": eid}


def delete_experiment(client: Client, args: Args) -> dict[str, Any]:
    """Mark experiment ``experiment_id`` deleted (restorable; its runs stay)."""
    eid = args.need("experiment_id")
    client.delete_experiment(eid)
    return {"experiment_id": eid}


def restore_experiment(client: Client, args: Args) -> dict[str, Any]:
    """Make deleted experiment ``experiment_id`` active again."""
    eid = args.need("experiment_id")
    client.restore_experiment(eid)
    return {"experiment_id": eid}


ROUTES = {"/run/set-tag": set_run_tag, "/run/delete-tag": delete_run_tag,
          "/experiments/create": create_experiment, "/experiments/rename": rename_experiment,
          "/experiments/delete": delete_experiment, "/experiments/restore": restore_experiment}
