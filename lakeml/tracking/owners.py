"""Which processes own a RUNNING run, and ending the runs whose owners are gone.

A run records the processes that own it in tag ``lakeml.owner``: the one
that created it, and each one that resumed it (``start_run(run_id=...)``, as
a project's command does), as ``host:pid:start`` entries separated by commas.
``start`` is the process's start time (clock ticks since boot, from
``/proc``; empty where that is unknown), so that a reused pid is not taken
for the owner. An empty tag means a run that no process holds (a workflow
driven step by step by a scheduler).

A RUNNING run is *stale* when every owner is known to be gone: all of them
on this host, and none alive. A run with an owner on another host, or with no
owner, cannot be judged from here: it counts as stale only with
``older_than``, after that long without a sign of life (no tag or metric
logged). A run with a live owner on this host is never touched.
:func:`end_stale` ends stale runs KILLED with tag ``lakeml.cleanup.reason``
(``lakeml runs cleanup --stale``).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Mapping, Protocol

from lakeml.entities import RunStatus

if TYPE_CHECKING:
    import duckdb

    from lakeml.entities import Run
    from lakeml.store import Store


class Sweeper(Protocol):
    """What the stale-run sweep needs of the tracking service (which passes itself in)."""

    @property
    def store(self) -> Store: ...

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation: ...

    def get_run(self, run_id: str) -> Run: ...

    def set_terminated(self, run_id: str, status: str = ...) -> None: ...

    def _append_tags(self, run_id: str, tags: Mapping[str, Any]) -> None: ...

OWNER_TAG = "lakeml.owner"
CLEANUP_TAG = "lakeml.cleanup.reason"
MAX_OWNERS = 16  # entries kept in the tag (the oldest go first)


@lru_cache(maxsize=1)
@lru_cache(maxsize=1)
def hostname() -> str:
    """Where this process's pids mean something, as owner entries record it: the
    machine's name and, on Linux, its PID namespace (containers sharing a host name
    have pids of their own, so one cannot judge another's), without ``:`` or ``,``."""
    name = socket.gethostname().replace(":", "_").replace(",", "_") or "localhost"
    try:
        return f"{name}/pidns-{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:  # not Linux: the name alone
        return name


def _stat(pid: int) -> list[bytes]:
    """The fields of /proc/<pid>/stat after the name (state first), or [] if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return []
    return stat[stat.rfind(b")") + 2:].split()  # the name in (...) may hold spaces


def start_ticks(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot), or "" if unknown."""
    fields = _stat(pid)
    return fields[19].decode() if len(fields) > 19 else ""


@lru_cache(maxsize=4)
def _entry(pid: int) -> str:
    return f"{hostname()}:{pid}:{start_ticks(pid)}"


def this_process() -> str:
    """This process's owner entry (computed again after a fork)."""
    return _entry(os.getpid())


def with_this_process(owners: str | None) -> str:
    """``owners`` with this process added (a resumed run keeps its earlier owners)."""
    entries = [e for e in (owners or "").split(",") if e and e != this_process()]
    return ",".join([*entries, this_process()][-MAX_OWNERS:])


def pid_alive(pid: int, start: str = "") -> bool:
    """Whether process ``pid`` of this host runs (a zombie does not), and is the one that
    started at ``start`` (when given and known)."""
    if pid <= 0:
        return False
    if os.name != "posix":  # signal 0 is no probe there: Windows' os.kill terminates
        return True  # unknown, so never "gone": nothing is ended or swept for it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    fields = _stat(pid)
    if fields and fields[0] in (b"Z", b"X"):
        return False  # exited, not yet reaped by its parent
    return not (start and len(fields) > 19 and fields[19].decode() != start)  # pid reused?


def owners_alive(owners: str | None) -> bool | None:
    """True if an owner runs on this host, False if every owner is gone, None if unknown
    (no owner recorded, or an owner on another host)."""
    entries = [e for e in (owners or "").split(",") if e]
    if not entries:
        return None
    unknown = False
    for entry in entries:
        host, _, rest = entry.partition(":")
        pid, _, start = rest.partition(":")
        if host != hostname() or not pid.isdigit():
            unknown = True
        elif pid_alive(int(pid), start):
            return True
    return None if unknown else False


@dataclass(frozen=True)
class StaleRun:
    """A RUNNING run found stale, and why."""

    run_id: str
    experiment_id: str
    run_name: str | None
    owner: str | None
    reason: str


def find_stale(client: Sweeper, *, older_than: float | None = None
               ) -> list[StaleRun]:
    """The RUNNING runs of the store that are stale (see the module's docstring).

    ``older_than``: seconds without a sign of life after which a run that
    cannot be judged from here (no owner, or one on another host) counts as
    stale; runs whose owners are all gone must also be that old.
    """
    from lakeml.query.sqlfiles import query

    client.store.flush(report=False)
    now_ms = time.time() * 1000
    found = []
    for run_id, exp_id, name, owner, last_ms in client.sql(
            query("running_runs"), {"owner_tag": OWNER_TAG}).fetchall():
        idle_s = max(0.0, (now_ms - (last_ms or 0)) / 1000)
        if older_than is not None and idle_s < older_than:
            continue
        alive = owners_alive(owner)
        if alive:
            continue
        if alive is None and older_than is None:
            continue
        reason = (f"every owner process ({owner}) is gone" if alive is False else
                  f"no sign of life for {idle_s:.0f} s (owner {owner or 'unknown'} cannot be "
                  f"checked from host {hostname()})")
        found.append(StaleRun(run_id, exp_id, name, owner, reason))
    return found


def end_stale(client: Sweeper, stale: list[StaleRun]) -> None:
    """End each run of ``stale`` KILLED, with tag ``lakeml.cleanup.reason`` saying why."""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    for run in stale:
        if client.get_run(run.run_id).info.status != RunStatus.RUNNING:
            continue  # it ended by itself since it was found: leave its status be
        client._append_tags(run.run_id, {  # a deleted run may be stale too: no state check
            CLEANUP_TAG: f"ended KILLED by `lakeml runs cleanup --stale` on {hostname()} at "
                         f"{when}: {run.reason}"})
        client.set_terminated(run.run_id, RunStatus.KILLED)
    client.store.flush(report=False)
