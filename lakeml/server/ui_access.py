"""The permissions of the web UI's JSON API (lakeml/ui, ``/ajax-api/lakeml/...``) on a
server with users: the same levels and rules as the REST routes (rules.py), per UI route.

Each route names what it reads or changes and the level it needs there: READ on the
experiments of ``experiment_id`` (repeated), on the experiment of each ``run_id``, or on
model ``name``; EDIT to change them; MANAGE to delete or restore an experiment. Lists (the
experiments, the models, the workflow runs) leave out what the caller may not read, and a
run's page drops its parent's details when the parent is in an experiment the caller may
not read. A route with no rule here (the SQL box, which reads every table) is for admins
only, so a new UI route stays closed until it gets one. Every refusal is recorded in the
registry's audit log (access.py), as for the REST routes.

The registry's own policy (LAKEML_PERMISSIONS: who may request, approve, reject which
stage) then applies inside the registry service to the acting user, as for the REST routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from lakeml.server.access import SESSION, deny, may_read, require
from lakeml.server.rules import experiment_of_run

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.server.access import Session
    from lakeml.ui.args import Args

    Handler = Callable[[Client, Args], Any]
    Check = Callable[[Client, Session, str, Args], None]
    After = Callable[[Client, Session, Args, dict[str, Any]], None]

_EXP, _MODEL = "experiment", "registered_model"


def _experiments(level: str) -> Check:
    def check(client: Client, session: Session, route: str, args: Args) -> None:
        for eid in args.all("experiment_id"):
            for one in eid.split(","):
                require(client, session, route, _EXP, one, level)
    return check


def _runs(level: str) -> Check:
    def check(client: Client, session: Session, route: str, args: Args) -> None:
        for exp in experiments_of_runs(client, args.all("run_id")):
            require(client, session, route, _EXP, exp, level)
    return check


def experiments_of_runs(client: Client, run_ids: list[str]) -> list[str]:
    """The experiments of ``run_ids`` (a thousand compared runs: one query, not a thousand
    lookups); a run of none is left to the handler, which answers NotFound."""
    ids = sorted(set(run_ids))
    if len(ids) <= 3:
        return sorted({experiment_of_run(client, r) for r in ids})
    rows = client.sql("SELECT DISTINCT experiment_id FROM runs WHERE run_id IN "
                      "(SELECT unnest($ids))", {"ids": ids}).fetchall()
    return sorted(str(e) for (e,) in rows)


def _model(level: str) -> Check:
    def check(client: Client, session: Session, route: str, args: Args) -> None:
        require(client, session, route, _MODEL, args.need("name"), level)
    return check


def _transition(client: Client, session: Session, route: str, args: Args) -> None:
    """READ to cancel a request (the registry lets only its requester or an admin cancel
    it), EDIT to request, approve or reject: the levels of the REST routes (rules.py)."""
    _model("READ" if args.get("action") == "cancel" else "EDIT")(client, session, route, args)


def _both(*checks: Check) -> Check:
    def check(client: Client, session: Session, route: str, args: Args) -> None:
        for one in checks:
            one(client, session, route, args)
    return check


def _workflow(client: Client, session: Session, route: str, args: Args) -> None:
    require(client, session, route, _EXP, experiment_of_run(client, args.need("run_id")),
            "READ")


def _anyone(client: Client, session: Session, route: str, args: Args) -> None:
    return None


# ---- after the call -------------------------------------------------------------------------
def _keep(field: str, kind: str, key: str) -> After:
    def after(client: Client, session: Session, args: Args, body: dict[str, Any]) -> None:
        body[field] = [item for item in body[field] if item.get(key) is not None
                       and may_read(session, kind, str(item[key]))]
    return after


def _hide_parent(client: Client, session: Session, args: Args, body: dict[str, Any]) -> None:
    parent = body.get("parent")
    if parent and parent.get("experiment_id") is not None and not may_read(
            session, _EXP, str(parent["experiment_id"])):
        body["parent"] = {"run_id": parent["run_id"]}


def _signed_in(client: Client, session: Session, args: Args, body: dict[str, Any]) -> None:
    body["signed_in"] = True


def _grant_creator(client: Client, session: Session, args: Args, body: dict[str, Any]) -> None:
    session.users.grant(_EXP, body["experiment_id"], session.user.name, "MANAGE")


#: UI path (below /ajax-api/lakeml) -> (check before, what to do after)
UI_RULES: dict[str, tuple[Check, After | None]] = {
    "/me": (_anyone, _signed_in),
    "/experiments": (_anyone, _keep("experiments", _EXP, "experiment_id")),
    "/experiment": (_experiments("READ"), None),
    "/runs": (_experiments("READ"), None),
    "/keys": (_experiments("READ"), None),
    "/groups": (_experiments("READ"), None),
    "/points": (_both(_experiments("READ"), _runs("READ")), None),
    "/run": (_runs("READ"), _hide_parent),
    "/artifacts": (_runs("READ"), None),
    "/artifact": (_runs("READ"), None),
    "/metric-history": (_runs("READ"), None),
    "/compare": (_runs("READ"), None),
    "/models": (_anyone, _keep("models", _MODEL, "name")),
    "/model": (_model("READ"), None),
    "/model-version": (_model("READ"), None),
    "/model-version/events": (_model("READ"), None),
    "/workflows": (_anyone, _keep("workflow_runs", _EXP, "experiment_id")),
    "/workflow": (_workflow, None),
    # writes: as the REST routes of the same calls (rules.py)
    "/run/set-tag": (_runs("EDIT"), None),
    "/run/delete-tag": (_runs("EDIT"), None),
    "/experiments/create": (_anyone, _grant_creator),
    "/experiments/rename": (_experiments("EDIT"), None),
    "/experiments/delete": (_experiments("MANAGE"), None),
    "/experiments/restore": (_experiments("MANAGE"), None),
    "/model/description": (_model("EDIT"), None),
    "/model-version/description": (_model("EDIT"), None),
    # the review workflow; the registry's policy decides the rest (see the docstring)
    "/review/transition": (_transition, None),
    "/review/comment": (_model("READ"), None),
}


#: lists that a handler cuts to ``max_results`` (default, largest) before the filter above
#: leaves out what the caller may not read: for a non-admin, the handler is asked for
#: the largest, and the filtered list cut to what the caller asked, so that no one gets an
#: empty page while later items they may read exist
_CUT_AFTER_FILTER = {"/workflows": ("workflow_runs", 200, 10_000)}


def guard(path: str, handler: Handler) -> Handler:
    """``handler`` of UI route ``path``, checked against its rule when the request has a
    session (a server with users); admins pass, a route with no rule is for admins."""
    rule = UI_RULES.get(path)
    route = f"UI {path}"

    def guarded(client: Client, args: Args) -> Any:
        session = SESSION.get()
        if session is None:
            return handler(client, args)
        if session.user.admin:  # passes every check; /me still says who signed in
            body = handler(client, args)
            if path == "/me":
                _signed_in(client, session, args, body)
            return body
        if rule is None:
            deny(client, session, route, "route", path, "none", "admin",
                 f"user {session.user.name!r} may not use the UI's {path}: only admins may")
        check, after = rule
        check(client, session, route, args)
        cut = _CUT_AFTER_FILTER.get(path)
        if cut is None:
            body = handler(client, args)
        else:
            field, default, largest = cut
            wanted = args.int("max_results", default, low=1, high=largest)
            body = handler(client, args.replaced("max_results", str(largest)))
        if after is not None:
            after(client, session, args, body)
        if cut is not None:
            body[field] = body[field][:wanted]
        return body

    guarded.__name__ = handler.__name__
    return guarded
