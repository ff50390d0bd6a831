"""The drift and quality statistics against scipy and scikit-learn on known
distributions, and the two counting paths (DuckDB, numpy) against each other."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as sp
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import f1_score, roc_auc_score

from lakeml.data.monitor import stats
from lakeml.data.monitor.quality import auc, macro_f1, quality
from lakeml.data.monitor.reference import reference_of
from lakeml.data.monitor.windows import count_windows_arrow, from_long, to_long


def _fine(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = stats.numeric_edges(np.quantile(a, np.linspace(0, 1, stats.KS_BINS + 1),
                                            method="inverted_cdf"))
    return stats.bin_counts(a, edges), stats.bin_counts(b, edges)


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5, 1.0])
def test_ks_matches_scipy_within_one_fine_bin(shift: float) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 20_000), rng.normal(shift, 1, 5_000)
    statistic, pvalue = stats.ks(*_fine(a, b))
    expected = sp.ks_2samp(a, b, method="asymp")
    assert abs(statistic - expected.statistic) <= 1 / stats.KS_BINS + 1e-12
    # the p-value moves with the statistic's (binned) value: close, not equal
    if expected.pvalue > 1e-6:
        assert pvalue == pytest.approx(expected.pvalue, abs=0.05)
    else:
        assert pvalue < 1e-4


def test_ks_is_exact_on_discrete_data() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.poisson(3, 4000), rng.poisson(3.4, 3000)  # b reaches values a never had
    statistic, _ = stats.ks(*_fine(a, b))
    assert statistic == pytest.approx(sp.ks_2samp(a, b).statistic, abs=1e-12)


def test_kolmogorov_pvalue_follows_scipys_kstwobign() -> None:
    for lam in (0.5, 0.9, 1.36, 2.0):
        n = 1e9  # large: the small-sample correction vanishes
        assert stats.kolmogorov_pvalue(lam / np.sqrt(n), n) == pytest.approx(
            sp.kstwobign.sf(lam), abs=1e-5)


@pytest.mark.parametrize("dof,x", [(1, 0.2), (1, 3.84), (4, 10.0), (7, 0.5), (50, 100.0),
                                   (3, 40.0)])
def test_chi2_survival_matches_scipy(dof: int, x: float) -> None:
    assert stats.chi2_sf(x, dof) == pytest.approx(sp.chi2.sf(x, dof), rel=1e-9, abs=1e-15)


def test_chi_square_and_jensen_shannon_match_scipy() -> None:
    base, now = np.array([500, 300, 200, 0]), np.array([450, 250, 280, 20])
    statistic, pvalue = stats.chi_square(base, now)
    expected = sp.chi2_contingency(np.vstack([base, now]), correction=False)
    assert statistic == pytest.approx(expected[0], rel=1e-12)
    assert pvalue == pytest.approx(expected[1], rel=1e-9)
    assert stats.jensen_shannon(base, now) == pytest.approx(
        jensenshannon(base, now, base=2), rel=1e-12)
    assert stats.jensen_shannon(base, base * 3) == pytest.approx(0.0, abs=1e-9)


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(0, 1, 50_000)
    values = [stats.psi_binned(*_fine(a, rng.normal(s, 1, 20_000))) for s in (0, .25, .5, 1)]
    assert values[0] < 0.01
    assert values == sorted(values) and values[-1] > 0.2
    # decile bins of the baseline: the textbook formula over those ten bins
    b = rng.normal(0.5, 1, 20_000)
    deciles = np.quantile(a, np.linspace(0, 1, 11))[1:-1]
    pa_, pb_ = (np.bincount(np.searchsorted(deciles, x, side="left"), minlength=10) / len(x)
                for x in (a, b))
    textbook = float(np.sum((pb_ - pa_) * np.log(pb_ / pa_)))
    assert stats.psi_binned(*_fine(a, b)) == pytest.approx(textbook, rel=0.02)


def test_quality_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(6)
    truth = rng.integers(0, 2, 2000)
    scores = np.clip(truth * 0.3 + rng.random(2000) * 0.7, 0, 1)
    assert auc(truth.astype(float), scores) == pytest.approx(roc_auc_score(truth, scores))
    guess = (scores >= 0.5).astype(int)
    assert macro_f1(truth, guess) == pytest.approx(f1_score(truth, guess, average="macro"))
    got = quality(truth, scores)
    assert got["accuracy"] == pytest.approx(np.mean(truth == guess))
    assert got["auc"] == pytest.approx(roc_auc_score(truth, scores))
    labels = np.array(["a", "b", "c", "a"] * 50)
    predicted = np.array(["a", "b", "b", "c"] * 50)
    got = quality(labels, predicted)
    assert got["f1"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    y = rng.normal(size=500)
    p = y + rng.normal(0, 0.5, 500)
    got = quality(y, p)
    assert got["rmse"] == pytest.approx(np.sqrt(np.mean((p - y) ** 2)))
    assert got["mae"] == pytest.approx(np.mean(np.abs(p - y)))


def test_duckdb_and_numpy_count_the_same_bins(tmp_path) -> None:
    import pyarrow.parquet as pq

    from lakeml.data.monitor.windows import count_windows_duckdb

    rng = np.random.default_rng(7)
    base = pa.table({"x": rng.normal(0, 1, 5000), "c": rng.choice(["a", "b"], 5000)})
    ref = reference_of(base, {"x": "double", "c": "string"}, "test")
    n = 4000
    times = (1_790_000_000_000_000 + rng.integers(0, 3 * 3600 * 10**6, n)).astype("int64")
    x = rng.normal(0.3, 1.2, n)
    x[::97] = np.nan
    log = pa.table({"time": pa.array(times).cast(pa.timestamp("us", tz="UTC")),
                    "input_x": pa.array(x, from_pandas=True),
                    "input_c": rng.choice(["a", "b", "z"], n),
                    "model_name": ["m"] * n, "model_version": [1] * n, "status": [200] * n})
    pq.write_table(log, tmp_path / "log.parquet")
    width = 3600 * 10**6
    duck = count_windows_duckdb([str(tmp_path / "log.parquet")], ref, model_name="m",
                                model_version=1, width_us=width,
                                log_columns=set(log.column_names))
    numpy_path = from_long(to_long(count_windows_arrow(log, ref, width_us=width)), ref, width)
    assert [w.start_us for w in duck] == [w.start_us for w in numpy_path]
    assert len(duck) >= 3
    for a, b in zip(duck, numpy_path):
        assert a.rows == b.rows
        for name in ("x", "c"):
            assert a.columns[name].nulls == b.columns[name].nulls
            assert a.columns[name].categories == b.columns[name].categories
        assert np.array_equal(a.columns["x"].bins, b.columns["x"].bins)
        assert a.columns["x"].nulls > 0
