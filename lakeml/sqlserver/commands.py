"""Running a bound statement: a DuckDB query streamed out, or a command the server
answers itself (transactions, SET/SHOW/RESET, DECLARE/FETCH/CLOSE of cursors)."""

from __future__ import annotations

from typing import Any

from lakeml.sqlserver import catalog, errors, pgtypes
from lakeml.sqlserver import messages as m
from lakeml.sqlserver.errors import SqlError
from lakeml.sqlserver.plans import Plan
from lakeml.sqlserver.results import Column, Portal, RowSource

# ``session``: the lakeml.sqlserver.session.Session running the statement (not imported:
# the session module imports this one)
Session = Any

_ALLOWED_WHEN_FAILED = ("rollback", "commit", "empty")


def columns_of(session: Session, plan: Plan, params: list[Any]) -> list[Column]:
    """The result columns of ``plan`` (bound to ``params``), without running it."""
    import duckdb

    if plan.kind == "query":
        cur = session.server.database.cursor(plan.sql)
        try:
            rel = cur.sql(plan.sql, params=params or None)
            if rel is None:
                return []
            return [Column(n, pgtypes.oid_of(t), t) for n, t in zip(rel.columns, rel.types)]
        except duckdb.Error as exc:
            raise SqlError.from_duckdb(exc) from None
        finally:
            cur.close()
    if plan.kind == "show":
        return [Column(plan.name if plan.name != "all" else "name", pgtypes.TEXT)] + (
            [Column("setting", pgtypes.TEXT)] if plan.name == "all" else [])
    if plan.kind == "fetch" and plan.value == "FETCH":
        cursor = session.portals.get(plan.name)
        if cursor is not None and cursor.source is not None:
            return cursor.source.columns
    return []


def start(session: Session, portal: Portal) -> list[Column]:
    """Start ``portal`` if it returns rows (running its query); its columns."""
    plan = portal.plan
    if portal.source is None and not portal.finished:
        if session.status == "E" and plan.kind not in _ALLOWED_WHEN_FAILED:
            raise SqlError(errors.IN_FAILED_TRANSACTION, "current transaction is aborted, "
                           "commands ignored until end of transaction block")
        if plan.kind == "query":
            portal.source = _open(session, plan, portal.params)
        elif plan.kind == "show":
            portal.source = RowSource(columns_of(session, plan, []), rows=_show(session, plan))
        elif plan.kind == "fetch" and plan.value == "FETCH":
            cursor = _cursor(session, plan.name)
            portal.source = RowSource(cursor.source.columns, rows=[])
    return portal.source.columns if portal.source is not None else []


def _open(session: Session, plan: Plan, params: list[Any]) -> RowSource:
    import duckdb

    cur = session.server.database.cursor(plan.sql)
    session.running = cur  # a CancelRequest interrupts it
    try:
        return RowSource.of_query(cur, plan.sql, params)
    except duckdb.Error as exc:
        cur.close()
        raise SqlError.from_duckdb(exc) from None
    finally:
        session.running = None


def _cursor(session: Session, name: str) -> Portal:
    cursor = session.portals.get(name)
    if cursor is None or cursor.source is None:
        raise SqlError(errors.UNDEFINED_CURSOR, f'cursor "{name}" does not exist')
    return cursor


def _show(session: Session, plan: Plan) -> list[tuple[Any, ...]]:
    if plan.name == "all":
        return sorted(session.settings.values.items())
    try:
        return [(session.settings.show(plan.name),)]
    except KeyError as exc:
        raise SqlError(errors.UNDEFINED_OBJECT, exc.args[0]) from None


def run(session: Session, portal: Portal, limit: int | None, *, describe: bool) -> None:
    """Execute ``portal`` (up to ``limit`` rows) and send its results; ``describe``: send
    the RowDescription first (the simple query protocol)."""
    plan = portal.plan
    if portal.finished:
        raise SqlError(errors.UNDEFINED_CURSOR, "portal has already run to completion")
    columns = start(session, portal)
    if plan.kind == "empty":
        session.send(m.EMPTY_QUERY)
        return
    if plan.kind == "fetch":
        return _fetch(session, portal, plan, describe)
    if columns or plan.kind == "query":
        sent, more = session.send_rows(portal, limit, describe and bool(columns))
        if more:
            session.send(m.PORTAL_SUSPENDED)
            return
        portal.finished = True
        portal.close()
        session.send(m.command_complete("SHOW" if plan.kind == "show" else
                                         f"SELECT {portal.source.taken}"))
        return
    session.send(m.command_complete(_command(session, plan, portal)))
    portal.finished = True


def _fetch(session: Session, portal: Portal, plan: Plan, describe: bool) -> None:
    cursor = _cursor(session, plan.name)
    if plan.value == "MOVE":
        chunks, _ = cursor.source.take(plan.count)
        session.send(m.command_complete(f"MOVE {sum(len(c) for c in chunks)}"))
        return
    target = cursor.source
    stand_in = Portal(plan, [], portal.formats, source=target)
    before = target.taken
    session.send_rows(stand_in, plan.count, describe)
    session.send(m.command_complete(f"FETCH {target.taken - before}"))
    portal.finished = True


def _command(session: Session, plan: Plan, portal: Portal) -> str:
    """Run a command that returns no rows; its CommandComplete tag."""
    kind = plan.kind
    if kind == "begin":
        session.status = "T" if session.status == "I" else session.status
        return "BEGIN"
    if kind in ("commit", "rollback"):
        failed = session.status == "E"
        session.status = "I"
        session._drop_portals(keep_holdable=True)
        return "ROLLBACK" if kind == "rollback" or failed else "COMMIT"
    if kind == "set":
        try:
            reported = session.settings.set(plan.name, plan.value)
        except catalog.SettingRefused as exc:
            raise SqlError(errors.NOT_SUPPORTED, str(exc)) from None
        if reported:
            session.send(m.parameter_status(reported, session.settings.show(plan.name)))
        return "SET"
    if kind == "reset":
        session.settings.reset(plan.name)
        return "RESET"
    if kind == "declare":
        return _declare(session, plan, portal)
    if kind == "close":
        if plan.name == "*":
            session._drop_portals(keep_holdable=False)
        else:
            cursor = session.portals.pop(plan.name, None)
            if cursor is None:
                raise SqlError(errors.UNDEFINED_CURSOR, f'cursor "{plan.name}" does not exist')
            cursor.close()
        return "CLOSE CURSOR"
    if kind == "noop":
        return plan.name
    raise SqlError(errors.NOT_SUPPORTED, f"statement {plan.text.strip()[:60]!r} is not "
                   "supported")


def _declare(session: Session, plan: Plan, portal: Portal) -> str:
    if session.status == "I" and not plan.hold:
        raise SqlError("25P01", "DECLARE CURSOR can only be used in transaction blocks")
    if plan.name in session.portals:
        raise SqlError("42P03", f'cursor "{plan.name}" already exists')
    assert plan.inner is not None
    cursor = Portal(plan.inner, portal.params, [], holdable=plan.hold)
    cursor.source = _open(session, plan.inner, portal.params)
    session.portals[plan.name] = cursor
    return "DECLARE CURSOR"
