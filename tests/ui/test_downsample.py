"""The chart downsampling keeps every extreme, the ends, the order, and the bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakeml.errors import InvalidArgument
from lakeml.ui.downsample import check_max_points, min_max


def test_a_series_that_fits_is_returned_whole():
    x = np.arange(50)
    assert min_max(x, np.sin(x), 100).tolist() == list(range(50))


def test_a_single_spike_and_dip_survive_a_million_points():
    n = 1_000_000
    y = np.sin(np.arange(n) / 5000.0)
    y[123_457] = 100.0
    y[876_543] = -100.0
    keep = min_max(np.arange(n), y, 2000)
    assert len(keep) <= 2000
    assert 123_457 in keep and 876_543 in keep
    assert keep[0] == 0 and keep[-1] == n - 1
    assert np.all(np.diff(keep) > 0)  # ascending, no repeats


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1,
                max_size=3000), st.integers(4, 400))
def test_every_bucket_keeps_its_extremes(values, max_points):
    """Whatever the series, the global min and max (of finite values) are kept, the
    bound holds, and each kept index is a real point."""
    y = np.array(values, dtype=np.float64)
    keep = min_max(np.arange(len(y)), y, max_points)
    assert len(keep) <= max_points
    assert np.all((keep >= 0) & (keep < len(y)))
    assert keep[0] == 0 and keep[-1] == len(y) - 1
    finite = np.isfinite(y)
    if finite.any():
        kept = y[keep]
        assert np.nanmax(np.where(np.isfinite(kept), kept, -np.inf)) == y[finite].max()
        assert np.nanmin(np.where(np.isfinite(kept), kept, np.inf)) == y[finite].min()


def test_every_bucket_of_a_sawtooth_keeps_both_ends_of_its_range():
    """A series with a high and a low in every stretch of 10 points keeps all of them
    when there are as many buckets as stretches."""
    n, per = 10_000, 10
    y = np.zeros(n)
    y[3::per] = 1.0
    y[7::per] = -1.0
    keep = min_max(np.arange(n), y, 2 * (n // per) + 2)
    assert set(range(3, n, per)) <= set(keep.tolist())
    assert set(range(7, n, per)) <= set(keep.tolist())


def test_nan_only_buckets_still_show_a_point():
    y = np.full(1000, np.nan)
    y[500] = 1.0
    keep = min_max(np.arange(1000), y, 10)
    assert 500 in keep and len(keep) <= 10


@pytest.mark.parametrize("bad", [3, 0, -5, 100_001, "many", 2.5])
def test_bad_max_points_are_refused_by_name(bad):
    with pytest.raises(InvalidArgument, match="max_points"):
        check_max_points(bad)


def test_x_and_y_of_different_lengths_are_refused():
    with pytest.raises(InvalidArgument, match="differ in length"):
        min_max(np.arange(5), np.arange(6), 4)


def plain_min_max(y: np.ndarray, max_points: int) -> list[int]:
    """min_max's rule, one bucket at a time: buckets of ceil(n / ((max_points - 2) // 2))
    consecutive points; from each, the first lowest and first highest finite value (the
    bucket's first point when it has none), and the series' ends."""
    n = len(y)
    if n <= max_points:
        return list(range(n))
    size = -(-n // ((max_points - 2) // 2))
    keep = {0, n - 1}
    for start in range(0, n, size):
        bucket = [(i, y[i]) for i in range(start, min(start + size, n)) if np.isfinite(y[i])]
        if not bucket:
            keep.add(start)
            continue
        keep.add(min(bucket, key=lambda p: (p[1], p[0]))[0])
        keep.add(min(bucket, key=lambda p: (-p[1], p[0]))[0])
    return sorted(keep)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.integers(-3, 3).map(float), st.sampled_from(
    [np.nan, np.inf, -np.inf])), min_size=1, max_size=700), st.integers(4, 120))
def test_min_max_is_the_plain_rule(values, max_points):
    y = np.array(values, dtype=np.float64)
    assert min_max(np.arange(len(y)), y, max_points).tolist() == plain_min_max(y, max_points)
