"""What each route of the tracking server needs, as MLflow's auth app decides it.

A :class:`Rule` names the resource a request acts on (an experiment, found directly, by
name or through a run id; or a registered model by name), the level it needs there
(READ to look, EDIT to log or change, MANAGE to delete or grant), and what happens after
the call: the creator of an experiment or registered model gets MANAGE on it, a renamed
model keeps its grants, a deleted one loses them, and searches leave out what the caller
may not read (a page may then come out short, as in MLflow). ``"any"`` routes are open to
every signed-in user; ``"self"`` routes (MLflow's user and permission calls,
lakeml/server/permissions_api.py) check in their handlers. Routes not listed are for
admins only (:func:`guard`), so a new route stays closed until it gets its rule here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from lakeml.server.access import SESSION, deny, may_read, require
from lakeml.server.journal_writes import RUN_FORGETTERS
from lakeml.system_tags import USER

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.server.access import Session
    from lakeml.server.protocol import Fields

    Handler = Callable[[Client, Fields], dict[str, Any]]
    Locate = Callable[[Client, Fields], list[str]]
    After = Callable[[Session, Fields, dict[str, Any]], None]

_EXPERIMENT_OF_RUN: OrderedDict[str, str] = OrderedDict()  # a run never changes experiment
_EXPERIMENT_OF_RUN_LOCK = threading.Lock()


def experiment_of_run(client: Client, run_id: str) -> str:
    """The experiment of run ``run_id`` (NotFound for an unknown run), remembered: every
    logging call asks, and the answer never changes."""
    with _EXPERIMENT_OF_RUN_LOCK:
        found = _EXPERIMENT_OF_RUN.get(run_id)
    if found is None:
        from lakeml.server.journal_writes import journal_of

        journal = journal_of(client)
        if journal is not None:  # a run another worker made may be in the journal only
            journal.wait_committed()
        found = client.get_run(run_id).info.experiment_id
        remember_experiment_of_run(run_id, found)
    return found


def remember_experiment_of_run(run_id: str, experiment_id: str) -> None:
    """Note the experiment of a run (runs/create does: the run may not be in Delta yet)."""
    with _EXPERIMENT_OF_RUN_LOCK:
        _EXPERIMENT_OF_RUN[run_id] = experiment_id
        while len(_EXPERIMENT_OF_RUN) > 100_000:
            _EXPERIMENT_OF_RUN.popitem(last=False)


def forget_experiment_of_run(run_id: str) -> None:
    """Drop what :func:`remember_experiment_of_run` noted (the run's creation was not
    journaled after all)."""
    with _EXPERIMENT_OF_RUN_LOCK:
        _EXPERIMENT_OF_RUN.pop(run_id, None)


RUN_FORGETTERS.append(lambda _client, run_id: forget_experiment_of_run(run_id))


@dataclass(frozen=True)
class Rule:
    """The resource kind (``experiment``, ``registered_model``, ``any``, ``self``), the level
    needed, how to find the resource keys in a request, and what to do after the call."""

    kind: str
    level: str = "READ"
    locate: Locate | None = None
    after: After | None = None
    by_run: bool = False
    prepare: Callable[[Fields, str], Fields] | None = None  # the request as the caller's

    def apply(self, route: str, handler: Callable[..., dict[str, Any]], client: Client,
              f: Fields, session: Session) -> dict[str, Any]:
        if self.locate is not None:
            run_id = f.run_id() if self.by_run else None
            for key in self.locate(client, f):
                require(client, session, route, self.kind, key, self.level, run_id)
        if self.prepare is not None:
            f = self.prepare(f, session.user.name)
        body = handler(client, f)
        if self.after is not None:
            self.after(session, f, body)
        return body


def _as_caller(f: Fields, user: str) -> Fields:
    """A run created over an authenticated server belongs to the caller, whatever the body
    says (MLflow's client sends the OS user of its machine)."""
    from lakeml.server.protocol import Fields

    values = dict(f._values)  # noqa: SLF001 - the server's own request type
    tags = [t for t in values.get("tags") or [] if not (isinstance(t, dict)
                                                       and t.get("key") == USER)]
    values.update(user_id=user, tags=[*tags, {"key": USER, "value": user}])
    return Fields(values)


# ---- locating the resource ------------------------------------------------------------------
def _experiment(client: Client, f: Fields) -> list[str]:
    return [str(f.required("experiment_id"))]


def _new_run_experiment(client: Client, f: Fields) -> list[str]:
    return [str(f.get("experiment_id", "0"))]


def _experiment_by_name(client: Client, f: Fields) -> list[str]:
    exp = client.get_experiment_by_name(f.required_text("experiment_name"))
    return [] if exp is None else [exp.experiment_id]  # none: the handler answers 404


def _experiments(client: Client, f: Fields) -> list[str]:
    return [str(e) for e in f.many("experiment_ids")]


def _run(client: Client, f: Fields) -> list[str]:
    return [experiment_of_run(client, f.run_id())]


def _model(client: Client, f: Fields) -> list[str]:
    return [f.required_text("name")]


def _optional_model(client: Client, f: Fields) -> list[str]:
    name = f.text("name")
    return [name] if name else []


# ---- after the call -------------------------------------------------------------------------
def _grant_experiment(session: Session, f: Fields, body: dict[str, Any]) -> None:
    session.users.grant("experiment", body["experiment_id"], session.user.name, "MANAGE")


def _grant_model(session: Session, f: Fields, body: dict[str, Any]) -> None:
    session.users.grant("registered_model", body["registered_model"]["name"],
                        session.user.name, "MANAGE")


def _move_model(session: Session, f: Fields, body: dict[str, Any]) -> None:
    session.users.move_model(f.required_text("name"), f.required_text("new_name"))


def _drop_model(session: Session, f: Fields, body: dict[str, Any]) -> None:
    session.users.drop_model(f.required_text("name"))


def _keep_readable(field: str, kind: str, key: str) -> After:
    def after(session: Session, f: Fields, body: dict[str, Any]) -> None:
        body[field] = [item for item in body.get(field, [])
                       if may_read(session, kind, str(item[key]))]
    return after


def _readable_requests(session: Session, f: Fields, body: dict[str, Any]) -> None:
    _keep_readable("requests", "registered_model", "name")(session, f, body)


_EXP, _MODEL = "experiment", "registered_model"
_ANY = Rule("any")
_SELF = Rule("self")


def _exp(level: str, locate: Locate = _experiment, **kw: Any) -> Rule:
    return Rule(_EXP, level, locate, **kw)


def _run_rule(level: str) -> Rule:
    return Rule(_EXP, level, _run, by_run=True)


def _model_rule(level: str, **kw: Any) -> Rule:
    return Rule(_MODEL, level, _model, **kw)


#: (method, path under /api/2.0/mlflow) -> Rule
RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/experiments/create"): Rule("any", after=_grant_experiment),
    ("GET", "/experiments/get"): _exp("READ"),
    ("GET", "/experiments/get-by-name"): _exp("READ", _experiment_by_name),
    ("POST", "/experiments/search"): Rule(
        "any", after=_keep_readable("experiments", _EXP, "experiment_id")),
    ("GET", "/experiments/search"): Rule(
        "any", after=_keep_readable("experiments", _EXP, "experiment_id")),
    ("POST", "/experiments/update"): _exp("EDIT"),
    ("POST", "/experiments/delete"): _exp("MANAGE"),
    ("POST", "/experiments/restore"): _exp("MANAGE"),
    ("POST", "/experiments/set-experiment-tag"): _exp("EDIT"),
    ("POST", "/experiments/delete-experiment-tag"): _exp("EDIT"),
    ("POST", "/runs/create"): _exp("EDIT", _new_run_experiment, prepare=_as_caller),
    ("GET", "/runs/get"): _run_rule("READ"),
    ("POST", "/runs/update"): _run_rule("EDIT"),
    ("POST", "/runs/delete"): _run_rule("MANAGE"),
    ("POST", "/runs/restore"): _run_rule("MANAGE"),
    ("POST", "/runs/search"): _exp("READ", _experiments),
    ("POST", "/runs/log-metric"): _run_rule("EDIT"),
    ("POST", "/runs/log-parameter"): _run_rule("EDIT"),
    ("POST", "/runs/set-tag"): _run_rule("EDIT"),
    ("POST", "/runs/delete-tag"): _run_rule("EDIT"),
    ("POST", "/runs/log-batch"): _run_rule("EDIT"),
    ("POST", "/runs/log-inputs"): _run_rule("EDIT"),
    ("POST", "/runs/log-model"): _run_rule("EDIT"),
    ("GET", "/metrics/get-history"): _run_rule("READ"),
    ("GET", "/artifacts/list"): _run_rule("READ"),
    ("POST", "/registered-models/create"): Rule("any", after=_grant_model),
    ("GET", "/registered-models/get"): _model_rule("READ"),
    ("POST", "/registered-models/rename"): _model_rule("EDIT", after=_move_model),
    ("PATCH", "/registered-models/update"): _model_rule("EDIT"),
    ("DELETE", "/registered-models/delete"): _model_rule("MANAGE", after=_drop_model),
    ("GET", "/registered-models/search"): Rule(
        "any", after=_keep_readable("registered_models", _MODEL, "name")),
    ("POST", "/registered-models/get-latest-versions"): _model_rule("READ"),
    ("GET", "/registered-models/get-latest-versions"): _model_rule("READ"),
    ("POST", "/registered-models/set-tag"): _model_rule("EDIT"),
    ("DELETE", "/registered-models/delete-tag"): _model_rule("EDIT"),
    ("POST", "/registered-models/alias"): _model_rule("EDIT"),
    ("DELETE", "/registered-models/alias"): _model_rule("EDIT"),
    ("GET", "/registered-models/alias"): _model_rule("READ"),
    ("POST", "/model-versions/create"): _model_rule("EDIT"),
    ("GET", "/model-versions/get"): _model_rule("READ"),
    ("PATCH", "/model-versions/update"): _model_rule("EDIT"),
    ("DELETE", "/model-versions/delete"): _model_rule("MANAGE"),
    ("GET", "/model-versions/search"): Rule(
        "any", after=_keep_readable("model_versions", _MODEL, "name")),
    ("POST", "/model-versions/transition-stage"): _model_rule("EDIT"),
    ("POST", "/model-versions/set-tag"): _model_rule("EDIT"),
    ("DELETE", "/model-versions/delete-tag"): _model_rule("EDIT"),
    ("GET", "/model-versions/get-download-uri"): _model_rule("READ"),
    # the review workflow (lakeml/server/review.py); which stages each user may request,
    # approve or reject, and that nobody approves their own request, is then the registry's
    # own policy (LAKEML_PERMISSIONS) for the acting user
    ("POST", "/transition-requests/create"): _model_rule("EDIT"),
    ("POST", "/transition-requests/approve"): _model_rule("EDIT"),
    ("POST", "/transition-requests/reject"): _model_rule("EDIT"),
    ("DELETE", "/transition-requests/delete"): _model_rule("READ"),
    ("GET", "/transition-requests/list"): Rule(
        _MODEL, "READ", _optional_model, after=_readable_requests),
    ("POST", "/comments/create"): _model_rule("READ"),
}
def _as_caller_id(f: Fields, user: str) -> Fields:
    """lakeml's run creation names its user in ``user_id`` and the ``mlflow.user`` tag: the
    caller, whatever the body says."""
    return _as_caller(f, user)


def _runs_in_arrow(client: Client, f: Fields) -> list[str]:
    """The experiments of every run a bulk request's Arrow rows name."""
    from lakeml.rest.http import arrow_field

    table = arrow_field(f.get("arrow"))
    if "run_id" not in table.column_names:
        return []  # the handler refuses it, naming the column
    runs = {r for r in table.column("run_id").to_pylist() if isinstance(r, str)}
    return sorted({experiment_of_run(client, r) for r in runs})


def _runs_listed(client: Client, f: Fields) -> list[str]:
    return sorted({experiment_of_run(client, str(r)) for r in f.many("run_ids")})


def _model_if_exists(client: Client, f: Fields) -> list[str]:
    """A registration names a model that may not exist yet: then anyone signed in may
    create it (and gets MANAGE on it, see _grant_registered)."""
    from lakeml.errors import NotFound

    name = f.required_text("name")
    try:
        client.get_registered_model(name)
    except NotFound:
        return []
    return [name]


def _grant_registered(session: Session, f: Fields, body: dict[str, Any]) -> None:
    name = body["model_version"]["name"]
    if session.users.permission(session.user.name, _MODEL, name) in ("NO_PERMISSIONS", "READ"):
        if str(body["model_version"].get("version")) == "1":  # it created the model
            session.users.grant(_MODEL, name, session.user.name, "MANAGE")


def _logged_model_experiment(client: Client, f: Fields) -> list[str]:
    from lakeml.models import logged

    return [logged.get(client, f.required_text("model_id")).experiment_id]


# MLflow 3's logged models and run outputs (logged_models.py, run_io.py): a logged model
# belongs to its experiment
RULES.update({
    ("POST", "/runs/outputs"): _run_rule("EDIT"),
    ("POST", "/logged-models"): _exp("EDIT"),
    ("POST", "/logged-models/search"): _exp("READ", _experiments),
    ("GET", "/logged-models/{model_id}"): _exp("READ", _logged_model_experiment),
    ("PATCH", "/logged-models/{model_id}"): _exp("EDIT", _logged_model_experiment),
    ("DELETE", "/logged-models/{model_id}"): _exp("MANAGE", _logged_model_experiment),
    ("PATCH", "/logged-models/{model_id}/tags"): _exp("EDIT", _logged_model_experiment),
    ("DELETE", "/logged-models/{model_id}/tags/{tag_key}"): _exp(
        "EDIT", _logged_model_experiment),
    ("POST", "/logged-models/{model_id}/params"): _exp("EDIT", _logged_model_experiment),
})


# lakeml's extensions (lakeml/server/lakeml_api.py, lakeml_registry.py), by full path. Those
# not listed (SQL, bulk writes and reads across runs, the audit log, register-many) stay
# for admins: they reach data no single experiment or model permission covers.
_LAKEML = "/api/2.0/lakeml"
RULES.update({
    ("POST", f"{_LAKEML}/runs/search"): _exp("READ", _experiments),
    ("POST", f"{_LAKEML}/runs/search-table"): _exp("READ", _experiments),
    ("POST", f"{_LAKEML}/runs/create"): _exp("EDIT", _new_run_experiment,
                                            prepare=_as_caller_id),
    ("POST", f"{_LAKEML}/runs/update"): _run_rule("EDIT"),
    ("POST", f"{_LAKEML}/runs/set-terminated"): _run_rule("EDIT"),
    ("GET", f"{_LAKEML}/runs/check-writable"): _run_rule("READ"),
    ("GET", f"{_LAKEML}/runs/list"): _exp("READ"),
    ("POST", f"{_LAKEML}/runs/log-inputs"): _run_rule("EDIT"),
    ("GET", f"{_LAKEML}/experiments/get-active"): _exp("READ"),
    ("POST", f"{_LAKEML}/experiments/delete-tag"): _exp("EDIT"),
    ("POST", f"{_LAKEML}/runs/log-runs"): _exp("EDIT"),
    ("POST", f"{_LAKEML}/analytics/leaderboard"): _exp("READ"),
    ("POST", f"{_LAKEML}/analytics/best-runs"): _exp("READ"),
    ("POST", f"{_LAKEML}/analytics/metric-by-param"): _exp("READ"),
    ("POST", f"{_LAKEML}/transition-requests/create"): _model_rule("EDIT"),
    ("POST", f"{_LAKEML}/transition-requests/approve"): _model_rule("EDIT"),
    ("POST", f"{_LAKEML}/transition-requests/reject"): _model_rule("EDIT"),
    ("POST", f"{_LAKEML}/transition-requests/cancel"): _model_rule("READ"),
    ("GET", f"{_LAKEML}/transition-requests/list"): Rule(
        _MODEL, "READ", _optional_model, after=_readable_requests),
    ("POST", f"{_LAKEML}/comments/create"): _model_rule("READ"),
    ("GET", f"{_LAKEML}/comments/list"): _model_rule("READ"),
    ("GET", f"{_LAKEML}/model-versions/list"): _model_rule("READ"),
    ("POST", f"{_LAKEML}/runs/log-metrics"): _exp("EDIT", _runs_in_arrow),
    ("POST", f"{_LAKEML}/metrics/log-histories"): _exp("EDIT", _runs_in_arrow),
    ("POST", f"{_LAKEML}/analytics/metric-histories"): _exp("READ", _runs_listed),
    ("POST", f"{_LAKEML}/analytics/param-diff"): _exp("READ", _runs_listed),
    ("POST", f"{_LAKEML}/registered-models/register"): Rule(
        _MODEL, "EDIT", _model_if_exists, after=_grant_registered),
    ("POST", f"{_LAKEML}/registry/require"): _model_rule("READ"),
})
for _path in ("/users/create", "/users/get", "/users/current", "/users/list",
              "/users/update-password", "/users/update-admin", "/users/delete"):
    for _method in ("GET", "POST", "PATCH", "DELETE"):
        RULES[(_method, _path)] = _SELF
for _kind in ("experiments", "registered-models"):
    for _verb, _method in (("create", "POST"), ("get", "GET"), ("update", "PATCH"),
                           ("delete", "DELETE")):
        RULES[(_method, f"/{_kind}/permissions/{_verb}")] = _SELF


def _v3_rules() -> None:
    """MLflow 3's /api/3.0 permission calls (permissions_v3.py) check the caller themselves;
    their paths are keyed as under /api/2.0, where none of them exists."""
    from lakeml.server.permissions_v3 import ROUTES as V3

    for method, path, _handler, _writes in V3:
        RULES[(method, path)] = _SELF


_v3_rules()


def guard(method: str, path: str, handler: Handler) -> Handler:
    """``handler`` checked against the route's rule when the request has a session."""
    rule = RULES.get((method, path))

    def guarded(client: Client, f: Fields) -> dict[str, Any]:
        session = SESSION.get()
        if session is None:
            return handler(client, f)
        if rule is None:
            if not session.user.admin:
                deny(client, session, f"{method} {path}", "route", path, "none", "admin",
                     f"user {session.user.name!r} may not call {method} {path}: it has no "
                     "permission rule, so only admins may")
            return handler(client, f)
        return rule.apply(f"{method} {path}", handler, client, f, session)

    guarded.__name__ = handler.__name__
    return guarded
