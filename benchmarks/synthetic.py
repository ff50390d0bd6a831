"""Deterministic synthetic runs shared by lakeml's and MLflow's search benchmarks.

Both venvs import this file (it needs numpy only), so that run ``i`` has the
same params and metrics whether lakeml writes 1,000,000 runs in chunks or
MLflow's worker loads 10,000 at once. Every value is a pure function of
``(seed, column, run index)``: a SplitMix64 hash of the index, with no
generator state carried from one run to the next, so chunk boundaries cannot
change the data.

Example:
    >>> cols = runs_columns(0, 3)
    >>> sorted(cols) == sorted(["index", "start_time_ms", *PARAMS, *METRICS])
    True
    >>> bool((runs_columns(2, 3)["m0"] == cols["m0"][2:]).all())
    True
"""

from __future__ import annotations

import numpy as np

PARAMS = [f"p{j}" for j in range(10)]
METRICS = [f"m{j}" for j in range(10)]
PARAM_VALUES = ["a", "b", "c", "d"]

#: The query both benchmarks time: the ten best runs by m0 among a ~2.5 % slice.
#: ``expected_leaderboard`` computes its answer with numpy.
LEADERBOARD = dict(filter_string="metrics.m0 < 0.1 and params.p1 = 'a'",
                   order_by=["metrics.m0 ASC"], max_results=10)

START_TIME_MS = 1_700_000_000_000

# One hash stream per column; a column's position here is part of its values.
_STREAMS = {name: k for k, name in enumerate([*PARAMS, *METRICS])}
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_CHUNK = 100_000


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on a uint64 array (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _bits(name: str, index: np.ndarray, seed: int) -> np.ndarray:
    """64 random bits per run index for one column: SplitMix64 output ``index`` of its stream."""
    stream_key = _mix(np.array([seed * len(_STREAMS) + _STREAMS[name]], dtype=np.uint64))
    return _mix(index.astype(np.uint64) * _GOLDEN + stream_key)


def _column(name: str, index: np.ndarray, seed: int) -> np.ndarray:
    """One param (str from PARAM_VALUES) or metric (float64 in [0, 1)) column."""
    bits = _bits(name, index, seed)
    if name in PARAMS:
        # The top two bits pick one of the four values uniformly.
        return np.array(PARAM_VALUES)[(bits >> np.uint64(62)).astype(np.intp)]
    # The top 53 bits scaled by 2**-53: every double in [0, 1) on the 2**-53 grid.
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _check_range(start: int, stop: int, seed: int) -> None:
    if not 0 <= start <= stop:
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")


def runs_columns(start: int, stop: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Columns for the runs with index ``start`` .. ``stop - 1``.

    Run ``i`` gets the same values whatever ``start``/``stop`` window it is
    generated in, so callers may chunk freely.

    Args:
        start: First run index (inclusive, >= 0).
        stop: Last run index (exclusive, >= start).
        seed: Selects the data set; the benchmarks use the default.

    Returns:
        ``"index"`` (int64), ``"p0"``..``"p9"`` (str arrays drawn uniformly
        from PARAM_VALUES), ``"m0"``..``"m9"`` (float64 uniform in [0, 1)) and
        ``"start_time_ms"`` (int64, ``1_700_000_000_000 + index * 1000``).

    Example:
        >>> runs_columns(0, 2)["start_time_ms"].tolist()
        [1700000000000, 1700000001000]
    """
    _check_range(start, stop, seed)
    index = np.arange(start, stop, dtype=np.int64)
    columns: dict[str, np.ndarray] = {"index": index}
    for name in (*PARAMS, *METRICS):
        columns[name] = _column(name, index, seed)
    columns["start_time_ms"] = START_TIME_MS + index * 1000
    return columns


def expected_leaderboard(n: int, seed: int = 7) -> list[tuple[int, float]]:
    """The answer to LEADERBOARD over runs ``0 .. n - 1``: ``(index, m0)``, best first.

    A correctness oracle for both benchmarks, computed with numpy alone. It
    mirrors LEADERBOARD's filter, order and limit (ties, which need two equal
    doubles, would break by index). Only ``m0`` and ``p1`` are generated, in
    chunks, so it stays cheap at 1,000,000 runs.

    Example:
        >>> board = expected_leaderboard(10_000)
        >>> len(board), all(m0 < 0.1 for _, m0 in board)
        (10, True)
    """
    _check_range(0, n, seed)
    limit = LEADERBOARD["max_results"]
    best_index = np.empty(0, dtype=np.int64)
    best_m0 = np.empty(0, dtype=np.float64)
    for start in range(0, n, _CHUNK):
        index = np.arange(start, min(start + _CHUNK, n), dtype=np.int64)
        m0 = _column("m0", index, seed)
        keep = (m0 < 0.1) & (_column("p1", index, seed) == "a")
        best_index = np.concatenate([best_index, index[keep]])
        best_m0 = np.concatenate([best_m0, m0[keep]])
        order = np.lexsort((best_index, best_m0))[:limit]
        best_index, best_m0 = best_index[order], best_m0[order]
    return [(int(i), float(v)) for i, v in zip(best_index, best_m0)]
