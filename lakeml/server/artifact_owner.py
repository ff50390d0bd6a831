"""Which experiment a path of the ``mlflow-artifacts`` proxy belongs to, for its permission check.

Every file the proxy serves lies under some experiment's artifact location: a run's at
``<location>/<run_id>/artifacts/...``, a logged model's at ``<location>/models/<id>/...``.
An experiment made without ``artifact_location`` has ``<artifact root>/<experiment_id>``;
one made with ``mlflow-artifacts:/team/churn`` has ``<artifact root>/team/churn``. So:

- a path whose first segment is all digits is an id folder: it belongs to the experiment
  of that id, whatever other experiments' locations say (MLflow's rule for its proxy);
- any other path belongs to the OLDEST experiment whose location holds it; a location
  counts only if its own first segment is not all digits (an id folder is never another
  experiment's) and it is not the artifact root itself.

Why the oldest and not the deepest: any signed-in user may create an experiment with any
location and holds MANAGE on it. Were the deepest location the owner, a user could create
one inside another team's folder (``team-a/churn/models``) and take over the files there;
the oldest experiment holding a path had it first. An experiment made later inside another
one's folder is therefore governed by the outer one's permissions.

A path under no experiment's location has no owner (None): the proxy leaves it to admins.

A request for an id folder (the default layout, and what MLflow's client sends) costs one
lookup of that experiment; any other path costs one search of every experiment (the
tracking service keeps the experiments per version of their table, one small query).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.entities import ViewType
from lakeml.errors import NotFound
from lakeml.tracking.experiments import every_experiment

if TYPE_CHECKING:
    from lakeml.client import Client


def locations_under(root: str, experiments: list[tuple[str, str, int]]
                    ) -> list[tuple[str, str, int]]:
    """``(path under root, experiment id, creation time)`` of each experiment located under
    ``root`` that may own paths beyond its id folder (see the module's docstring);
    locations elsewhere (``s3://other/...``) are left out: the proxy never serves them."""
    root = root.rstrip("/")
    found = []
    for experiment_id, location, created in experiments:
        location = (location or "").rstrip("/")
        if location.startswith(root + "/"):
            path = location[len(root) + 1:]
            if not path.split("/", 1)[0].isdigit():
                found.append((path, experiment_id, created))
    return found


def owner(ids: set[str], located: list[tuple[str, str, int]], path: str) -> str | None:
    """The id of the experiment owning ``path`` (relative to the artifact root): the id
    folder's experiment (of ``ids``), else the oldest of ``located`` holding it, or None."""
    first = path.split("/", 1)[0]
    if first.isdigit():
        return first if first in ids else None
    holders = [(created, experiment_id) for prefix, experiment_id, created in located
               if path == prefix or path.startswith(prefix + "/")]
    return min(holders)[1] if holders else None


def experiment_of_path(client: Client, path: str) -> str | None:
    """The experiment owning the proxy path ``path`` in ``client``'s store, or None."""
    first = path.split("/", 1)[0]
    if first.isdigit():  # an id folder: its experiment, without listing every one
        try:
            return client.get_experiment(first).experiment_id
        except NotFound:
            return None
    experiments = every_experiment(client, ViewType.ALL)
    located = locations_under(client.store.artifact_root, [
        (e.experiment_id, e.artifact_location, e.creation_time or 0) for e in experiments])
    return owner({e.experiment_id for e in experiments}, located, path)
