"""Helpers shared by the benchmark scripts and the MLflow worker (which runs in
MLflow's own venv, without lakeml, and finds this file beside it)."""

from __future__ import annotations

import compileall
import functools
import os
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def installed_env(tree: Path = ROOT) -> dict[str, str]:
    """The environment for a child that measures a cold start of the lakeml in ``tree``,
    as an installed lakeml starts: its bytecode compiled and cached first (pip compiles
    it at install; PYTHONDONTWRITEBYTECODE, set in some shells, would make every child
    compile ~150 modules from source, ~0.1 s that no user pays)."""
    _compile_once(tree)
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@functools.cache
def _compile_once(tree: Path) -> None:
    """Compile ``tree``'s lakeml once per benchmark process, not before every child."""
    compileall.compile_dir(str(tree / "lakeml"), quiet=1)


def timed(call: Callable[[], int]) -> tuple[float, int]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    result = call()
    return time.perf_counter() - t0, result


def history_result(read: Callable[[], int], points: int) -> dict[str, float]:
    """Time a first and a warm metric-history read; both must return ``points`` points."""
    first, n_first = timed(read)
    warm, n_warm = timed(read)
    if n_first != points or n_warm != points:
        raise RuntimeError(f"history returned {n_first}/{n_warm} points, logged {points}")
    return {"points": points, "first_s": first, "warm_s": warm}


def markdown(header: list[str], body: list[list[str]]) -> str:
    """Rows as a GitHub markdown table, columns padded so it reads on a terminal too."""
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(cells) for cells in body)])
