"""Experiment calls of the Client: create, find, rename, delete, restore, tag.

Experiment changes are rare and must be visible to other processes at once,
so they are committed synchronously rather than buffered. Names are unique
(deleted experiments keep theirs): creation and rename commit under an app
transaction keyed on the name, so of two processes racing for one name
exactly one wins.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from lakeml import arguments, ids
from lakeml import validation as v
from lakeml.artifacts.repository import absolute_location
from lakeml.entities import Experiment, LifecycleStage, ViewType
from lakeml.errors import (
    AlreadyExists,
    CommitConflict,
    Deleted,
    InvalidArgument,
    NotFound,
)
from lakeml.sqltext import placeholders
from lakeml.times import now_us
from lakeml.tracking.backend import run_row
from lakeml.tracking.search import (
    DEFAULT_MAX_RESULTS,
    MAX_RESULTS_LIMIT,
    PagedList,
    check_max_results,
    decode_page_token,
    encode_page_token,
)

if TYPE_CHECKING:
    from lakeml.tracking.backend import Backend

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
_EXPERIMENT_COLUMNS = ("experiment_id, name, artifact_location, lifecycle_stage, "
                       "epoch_ms(creation_time), epoch_ms(last_update_time)")


def name_guard(name: str) -> str:
    """The app transaction id that an experiment's row carries when it claims ``name``
    (creation, rename, and the MLflow importer, which keeps MLflow's experiment ids)."""
    return f"lakeml.experiment-name:{name}"


class ExperimentCalls:
    """The experiment calls of the lake tracking service (a part of it, sharing its backend)."""

    def __init__(self, backend: Backend) -> None:
        self._b = backend

    # ---- reads ----------------------------------------------------------------
    def _experiments_where(self, test: Callable[[Experiment], bool]) -> list[Experiment]:
        """The experiments passing ``test``, oldest first, as of the latest commit."""
        return [e for e in self._all_experiments()[1] if test(e)]

    def _experiment_by_id(self, experiment_id: str) -> Experiment | None:
        """The experiment with id ``experiment_id`` as of the latest commit (one look in a
        map, whatever the number of experiments: a server's create_run asks every time)."""
        key, experiments = self._all_experiments()
        by_id = self._b.experiments_by_id
        if by_id is None or by_id[0] != key:
            found: dict[str, Experiment] = {}
            for experiment in experiments:  # (the oldest of an id, as a scan finds it)
                found.setdefault(experiment.experiment_id, experiment)
            by_id = self._b.experiments_by_id = (key, found)
        return by_id[1].get(experiment_id)

    def _all_experiments(self) -> tuple[tuple[int, int], list[Experiment]]:
        """(the two experiment tables' versions, every experiment, oldest first) as of
        the latest commit.

        Every experiment is read once per version of the two experiment tables
        and kept (experiments are few; their changes commit at once, never
        buffered), so a lookup by name or id costs no query.
        """
        engine = self._b.engine
        engine.refresh(["experiments", "experiment_tags"])
        versions = engine.versions()
        key = (versions["experiments"], versions["experiment_tags"])
        cached = self._b.all_experiments
        if cached is None or cached[0] != key:
            rows = engine.rows(f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments "
                               "ORDER BY creation_time, experiment_id", tables=())
            tags: dict[str, dict[str, str]] = {}
            for exp_id, tag, value in engine.rows(
                    "SELECT experiment_id, key, value FROM experiment_tags", tables=()):
                tags.setdefault(exp_id, {})[tag] = value
            cached = self._b.all_experiments = (key, [
                Experiment(r[0], r[1], r[2], r[3], tags.get(r[0], {}), r[4], r[5])
                for r in rows])
        return cached

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with id ``experiment_id``; NotFound if there is none."""
        experiment_id = v.check_id(arguments.experiment_id(experiment_id), "experiment_id")
        found = self._experiment_by_id(experiment_id)
        if found is None:
            raise NotFound(f"no experiment with id {experiment_id!r}")
        return found

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment named ``name`` (active or deleted), or None."""
        name = v.check_name(name, "experiment name", lookup=True)
        found = self._experiments_where(lambda e: e.name == name)
        return found[0] if found else None

    def search_experiments(self, view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                           max_results: int | None = DEFAULT_MAX_RESULTS,
                           filter_string: str | None = None,
                           order_by: Sequence[str] | None = None,
                           page_token: str | None = None) -> PagedList:
        """Experiments in ``view_type`` matching ``filter_string``, a page at a time.

        The grammar is MLflow's (see :mod:`lakeml.search.experiment_filter`);
        the default order is newest first. ``.token`` of the page fetches the
        next one (None on the last).

        Example:
            >>> client.search_experiments(filter_string="name LIKE 'churn%'",
            ...                           order_by=["name"])  # doctest: +SKIP
        """
        from lakeml.search.experiment_filter import (
            compile_experiment_filter,
            compile_experiment_order_by,
            parse_experiment_filter,
        )

        max_results = check_max_results(max_results)
        filter_string = arguments.filter_string(filter_string)
        order_by = arguments.string_list(order_by, "order_by")
        page_token = arguments.page_token(page_token)
        stages = list(ViewType.parse(view_type).stages())
        where = compile_experiment_filter(parse_experiment_filter(filter_string))
        order = compile_experiment_order_by(order_by)
        fingerprint = json.dumps(["experiments", stages, filter_string, list(order_by or ())])
        offset = decode_page_token(page_token, fingerprint) if page_token else 0
        known = {e.experiment_id: e for e in self._experiments_where(lambda e: True)}
        ids = [r for (r,) in self._b.engine.rows(
            f"SELECT e.experiment_id FROM experiments AS e "
            f"WHERE e.lifecycle_stage IN ({placeholders(stages, 'stages')}) AND ({where.sql}) "
            f"ORDER BY {order} LIMIT ? OFFSET ?",
            [*stages, *where.params, max_results + 1, offset], tables=())]
        token = (encode_page_token(offset + max_results, fingerprint)
                 if len(ids) > max_results else None)
        return PagedList([known[i] for i in ids[:max_results] if i in known], token)

    # ---- writes --------------------------------------------------------------
    def _experiment_row(self, experiment_id: str, *, name: str | None = None,
                        artifact_location: str | None = None,
                        lifecycle_stage: str | None = None, created: bool = False):
        store = self._b.store
        now = now_us()
        row = store.rows.experiments(
            experiment_id=experiment_id, name=name, artifact_location=artifact_location,
            lifecycle_stage=lifecycle_stage, creation_time=now if created else None,
            last_update_time=now, seq=store.clock.next())
        return store.rows.to_arrow("experiments", [row])

    def _claim_name(self, name: str, data, *, exists_message: str) -> None:
        """Commit ``data`` only if no experiment holds ``name``; exactly one racer wins."""
        store = self._b.store
        guard = name_guard(name)
        for _ in range(50):
            # The guard first: the name check below then reads a state at least as new
            # as the version from which concurrent claims are conflict-checked.
            version, read_at = store.read_guard("experiments", guard)
            if self._experiments_where(lambda e: e.name == name):
                raise AlreadyExists(exists_message)
            try:
                store.commit("experiments", data, guard=guard, guard_version=version + 1,
                             read_version=read_at)
                return
            except CommitConflict:
                continue  # a racer claimed the name (or committed first): look again
        raise CommitConflict(f"could not claim experiment name {name!r} after 50 attempts")

    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, str] | None = None) -> str:
        """Create an experiment and return its id; AlreadyExists if the name is taken.

        ``artifact_location`` (None or "": ``<store>/artifacts/<id>``) is kept absolute:
        a relative folder is resolved against this process's folder now; a blank one or
        one holding control characters is refused.

        Example:
            >>> exp_id = lakeml.Client().create_experiment("churn")  # doctest: +SKIP
        """
        name = v.check_name(name, "experiment name")
        tags = arguments.mapping(tags, "tags")
        v.optional_text(artifact_location, "artifact location")
        exp_id = ids.experiment_id()
        location = (f"{self._b.store.artifact_root}/{exp_id}" if artifact_location in (None, "")
                    else absolute_location(artifact_location))
        data = self._experiment_row(exp_id, name=name, artifact_location=location,
                                    lifecycle_stage=LifecycleStage.ACTIVE, created=True)
        self._claim_name(name, data, exists_message=self._exists_message(name))
        for key, value in tags.items():
            self.set_experiment_tag(exp_id, key, value)
        return exp_id

    def _exists_message(self, name: str) -> str:
        found = self._experiments_where(lambda e: e.name == name)
        state = f" (in {found[0].lifecycle_stage} state)" if found else ""
        return f"experiment {name!r} already exists{state}"

    def _ensure_default_experiment(self) -> None:
        """Create "Default" (id "0") if the store lacks it; every Client calls this once."""
        store = self._b.store
        if self._b.default_experiment_exists:
            return
        if store.guard_version("experiments", name_guard(DEFAULT_EXPERIMENT_NAME)) > 0:
            self._b.default_experiment_exists = True
            return
        data = self._experiment_row(
            DEFAULT_EXPERIMENT_ID, name=DEFAULT_EXPERIMENT_NAME,
            artifact_location=f"{store.artifact_root}/{DEFAULT_EXPERIMENT_ID}",
            lifecycle_stage=LifecycleStage.ACTIVE, created=True)
        try:
            self._claim_name(DEFAULT_EXPERIMENT_NAME, data, exists_message="")
        except AlreadyExists:
            pass
        self._b.default_experiment_exists = True

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give the experiment a new, unused name."""
        new_name = v.check_name(new_name, "experiment name")
        exp = self.get_experiment(experiment_id)
        if exp.name == new_name:
            return
        data = self._experiment_row(exp.experiment_id, name=new_name)
        self._b.forget_experiment(exp.experiment_id)
        self._claim_name(new_name, data, exists_message=self._exists_message(new_name))

    def _set_experiment_stage(self, experiment_id: str, stage: str) -> None:
        """Move the experiment and every run in it to ``stage``, as MLflow does.

        The runs' rows commit first and the experiment's after, so an interrupted
        call leaves the experiment as it was and repeating the call completes it.
        """
        exp = self.get_experiment(experiment_id)
        store = self._b.store
        run_ids = [r for (r,) in self._b.engine.rows(
            "SELECT run_id FROM runs WHERE experiment_id = ?", [exp.experiment_id],
            tables=["runs"])]
        if run_ids:
            store.writer.extend("runs", [run_row(store, run_id, lifecycle_stage=stage)
                                         for run_id in run_ids])
            store.flush(report=False)  # internal: rejected rows are reported to their logger
            for run_id in run_ids:
                known = self._b.runs.get(run_id)
                if known is not None:
                    known.lifecycle_stage = stage
        self._b.forget_experiment(exp.experiment_id)
        store.commit("experiments", self._experiment_row(exp.experiment_id,
                                                         lifecycle_stage=stage))

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete the experiment and its runs: their rows stay, marked ``deleted``."""
        if arguments.experiment_id(experiment_id) == DEFAULT_EXPERIMENT_ID:
            raise InvalidArgument("the Default experiment (id '0') cannot be deleted")
        self._set_experiment_stage(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo a soft delete: the experiment and every run in it are active again."""
        self._set_experiment_stage(experiment_id, LifecycleStage.ACTIVE)

    def set_experiment_tag(self, experiment_id: str, key: str, value: object) -> None:
        """Set a tag on an experiment."""
        key = v.check_key(key, "tag key")
        text = v.tag_value(key, value)
        exp = self.get_experiment(experiment_id)
        now = now_us()
        self._b.forget_experiment(exp.experiment_id)
        store = self._b.store
        store.append("experiment_tags", store.rows.experiment_tags(
            experiment_id=exp.experiment_id, key=key, value=text, deleted=False, timestamp=now,
            seq=store.clock.next()))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Delete a tag from an experiment."""
        key = v.check_key(key, "tag key")
        exp = self.get_experiment(experiment_id)
        if key not in exp.tags:
            raise NotFound(f"experiment {exp.experiment_id!r} has no tag {key!r}")
        now = now_us()
        self._b.forget_experiment(exp.experiment_id)
        store = self._b.store
        store.append("experiment_tags", store.rows.experiment_tags(
            experiment_id=exp.experiment_id, key=key, value=None, deleted=True, timestamp=now,
            seq=store.clock.next()))

    def _active_experiment(self, experiment_id: str) -> Experiment:
        """The experiment, which must be active; read at most every few seconds."""
        exp = self._b.cached_experiment(experiment_id)
        if exp is None:
            exp = self.get_experiment(experiment_id)
            self._b.cache_experiment(exp)
        if exp.lifecycle_stage != LifecycleStage.ACTIVE:
            raise Deleted(f"experiment {exp.name!r} (id {exp.experiment_id!r}) is deleted;"
                          " restore it first")
        return exp


class ExperimentSearch(Protocol):
    """Anything with MLflow's paged ``search_experiments`` (a Client, a tracking service)."""

    def search_experiments(self, view_type: Any = ..., max_results: int | None = ...,
                           filter_string: str | None = ..., order_by: Any = ...,
                           page_token: str | None = ...) -> Any: ...


def every_experiment(client: ExperimentSearch,
                     view_type: ViewType | int | str = ViewType.ACTIVE_ONLY, *,
                     order_by: Sequence[str] | None = None) -> list[Experiment]:
    """Every experiment in ``view_type`` (newest first unless ``order_by`` says otherwise):
    search_experiments page by page."""
    found: list[Experiment] = []
    token = None
    while True:
        page = client.search_experiments(view_type, MAX_RESULTS_LIMIT, order_by=order_by,
                                         page_token=token)
        found += page
        token = page.token
        if token is None:
            return found
