"""The guard between a project run's parent and its command: the command dies with
the parent, even when the parent is killed with ``kill -9``.

``python -I -S guard.py PARENT_PID -- ARGV...`` runs ARGV as its child, in
its own process group (the parent starts the guard as a session leader), and
exits as the command did (the same code, or the same signal). A thread looks
every 0.2 s whether its parent is still ``PARENT_PID``: when the parent is
gone (its orphans are adopted by init or a subreaper), it sends SIGTERM to the
whole group (the command and anything it started), then SIGKILL after a grace
period (at once when the command has ended). Signals sent to the guard alone
are passed to the command.

This file is run by path and imports only the standard library, so that it
starts in a few milliseconds and whatever environment runs the command
(virtualenv, conda, docker) does not matter.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def _stop_group() -> None:
    """The parent is gone: SIGTERM the group, then SIGKILL what is left (the guard too)."""
    try:
        os.killpg(0, signal.SIGTERM)
    except OSError:
        pass
    time.sleep(GRACE_SECONDS)
    os.killpg(0, signal.SIGKILL)


def _exit_as(code: int) -> None:
    """Exit with the command's status: its code, or death by its signal."""
    if code < 0:
        try:
            signal.signal(-code, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP keep their default
        os.kill(os.getpid(), -code)
        time.sleep(1)  # a signal that does not kill: fall through to an exit code
        code = 128 - code
    sys.exit(code)


def main(argv: list[str]) -> None:
    """``PARENT_PID -- ARGV...``: run ARGV while PARENT_PID lives."""
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        sys.exit("usage: guard.py PARENT_PID -- COMMAND [ARGS...]")
    parent = int(argv[0])
    if os.getppid() != parent:
        sys.exit(f"lakeml guard: parent process {parent} is gone; not starting {argv[2:]}")
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for sig in _FORWARDED:
        signal.signal(sig, forward)
    try:
        child = subprocess.Popen(argv[2:])
    except OSError as exc:  # as a shell says it: one line, status 127 (126: not executable)
        print(f"lakeml: cannot run {argv[2]!r}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(126 if isinstance(exc, PermissionError) else 127)
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    code = child.wait()  # blocking: the command's end is seen at once
    if os.getppid() != parent:  # orphaned: nothing it started may outlive it
        os.killpg(0, signal.SIGKILL)
    _exit_as(code)


def _watch(parent: int) -> None:
    """Poll for the parent's death; then stop the whole group."""
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    _stop_group()


if __name__ == "__main__":
    main(sys.argv[1:])
