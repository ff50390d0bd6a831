"""A project run in progress: its child process and the lakeml run it logs into."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import TYPE_CHECKING, Callable

from lakeml.entities import RunStatus
from lakeml.errors import LakemlError

if TYPE_CHECKING:
    from lakeml.client import Client


class ExecutionError(LakemlError):
    """A project's command failed (non-zero exit) or was cancelled."""


class SubmittedRun:
    """The run of a project command started by :func:`lakeml.projects.run`.

    The child process logs into run ``run_id`` (``LAKEML_RUN_ID``); when it
    exits, the run ends FINISHED (exit status 0) or FAILED, or KILLED after
    :meth:`cancel`.

    Example:
        >>> submitted = lakeml.projects.run("examples/wine", parameters={"alpha": 0.3},
        ...                                 synchronous=False)          # doctest: +SKIP
        >>> submitted.wait()                                            # doctest: +SKIP
        True
    """

    def __init__(self, client: Client, run_id: str, process: subprocess.Popen[bytes],
                 command: str, *, on_exit: Callable[[], None] | None = None,
                 check: Callable[[], str | None] | None = None) -> None:
        self._client = client
        self.run_id = run_id
        self.command = command
        self._process = process
        self._on_exit = on_exit
        self._check = check
        self.error: str | None = None  # why the run failed though the command succeeded
        self._status: str | None = None
        self._cancelled = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<SubmittedRun run_id={self.run_id!r} status={self.get_status()!r}>"

    @property
    def returncode(self) -> int | None:
        """The exit status of the command (None while it runs; negative: a signal)."""
        return self._process.poll()

    def wait(self) -> bool:
        """Wait for the command to exit and end the run; True if it succeeded."""
        try:
            self._process.wait()
        except KeyboardInterrupt:
            self.cancel()
            raise
        return self._finish() == RunStatus.FINISHED

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the command to exit; True if it has."""
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def get_status(self) -> str:
        """RUNNING while the command runs, then FINISHED, FAILED or KILLED."""
        if self._process.poll() is None:
            return RunStatus.RUNNING
        return self._finish()

    def cancel(self) -> None:
        """Stop the command (its whole process group) and end the run KILLED."""
        self._cancelled = True
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._finish()

    def _finish(self) -> str:
        with self._lock:
            if self._status is not None:
                return self._status
            code = self._process.returncode
            if self._cancelled:
                status = RunStatus.KILLED
            else:
                status = RunStatus.FINISHED if code == 0 else RunStatus.FAILED
                if status == RunStatus.FINISHED and self._check is not None:
                    try:
                        self.error = self._check()
                    except Exception as exc:  # the run must still end, FAILED
                        self.error = f"checking the outputs failed: {type(exc).__name__}: {exc}"
                    if self.error is not None:
                        status = RunStatus.FAILED
                        self._client.set_tag(self.run_id, "lakeml.project.error",
                                             self.error[:5000])
            self._client.set_terminated(self.run_id, status)
            self._client.store.flush(report=False)
            self._status = status
            if self._on_exit is not None:
                self._on_exit()
            return status
