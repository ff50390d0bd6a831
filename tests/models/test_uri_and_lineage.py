"""Model URIs (runs:/, paths, fsspec, models:/) and the logged_models lineage table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lakeml
import lakeml.lightgbm
import lakeml.pyfunc
import lakeml.sklearn
from lakeml.errors import InvalidArgument, NotFound, PermissionDenied


def test_runs_uri_must_name_run_and_path() -> None:
    for bad in ("runs:/", "runs:/abc", "runs://abc/"):
        with pytest.raises(InvalidArgument, match=r"runs:/<run_id>/<path>"):
            lakeml.pyfunc.load_model(bad)


def test_runs_uri_of_unknown_run_or_path(store_uri: str, sk_model: Any) -> None:
    with pytest.raises(NotFound, match="no run with id"):
        lakeml.pyfunc.load_model("runs:/0123456789abcdef0123456789abcdef/model")
    with lakeml.start_run() as run:
        lakeml.sklearn.log_model(sk_model, "model")
    with pytest.raises(NotFound, match="no model at 'runs:/.*/other'"):
        lakeml.pyfunc.load_model(f"runs:/{run.info.run_id}/other")


def test_models_uri_of_unknown_model_or_version() -> None:
    for uri in ("models:/churn/3", "models:/churn/Production", "models:/churn@champion"):
        with pytest.raises(NotFound, match="registered model 'churn' does not exist"):
            lakeml.pyfunc.load_model(uri)


def test_registered_model_name_fails_before_logging_anything(
        store_uri: str, sk_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "permissions.yaml"
    policy.write_text("roles: {reader: {}}\ndefault_roles: [reader]\n")
    monkeypatch.setenv("LAKEML_PERMISSIONS", str(policy))
    monkeypatch.setenv("LAKEML_USER", "guest")
    with lakeml.start_run() as run:
        with pytest.raises(PermissionDenied, match="user 'guest' may not register a version "
                                                   "of model 'churn'"):
            lakeml.sklearn.log_model(sk_model, "model", registered_model_name="churn")
        with pytest.raises(InvalidArgument, match="invalid registered model name 'a/b'"):
            lakeml.sklearn.log_model(sk_model, "model", registered_model_name="a/b")
    # nothing was saved, so a retry without the name logs the model once
    assert lakeml.Client(store_uri).list_artifacts(run.info.run_id) == []
    with pytest.raises(NotFound):
        lakeml.pyfunc.load_model(f"runs:/{run.info.run_id}/model")


def test_runs_uri_paths_that_leave_the_run_are_refused(store_uri: str, sk_model: Any,
                                                      tmp_path: Path) -> None:
    with lakeml.start_run() as run:
        lakeml.sklearn.log_model(sk_model, "model")
    run_id = run.info.run_id
    # a model planted next to the store, which a traversal would reach
    lakeml.sklearn.save_model(sk_model, tmp_path / "secret")
    for bad in (f"runs:/{run_id}/../../../../secret", f"runs:/{run_id}/model/../../x",
                f"runs:/{run_id}//etc/passwd"):
        with pytest.raises(InvalidArgument, match=re.escape(repr(bad))):
            lakeml.pyfunc.load_model(bad)
    assert lakeml.pyfunc.load_model(f"runs:/{run_id}/model/../model") is not None


def test_models_package_finds_the_store_without_the_fluent_api(store_uri: str) -> None:
    from lakeml import config

    assert config.store_uri() == store_uri  # set_store() reaches the lower layers here
    source = (Path(lakeml.__file__).parent / "models").rglob("*.py")
    assert [p.name for p in source if "tracking.fluent" in p.read_text()] == []


def test_local_path_file_uri_and_missing_folder(tmp_path: Path, sk_model: Any) -> None:
    lakeml.sklearn.save_model(sk_model, tmp_path / "m")
    assert lakeml.pyfunc.load_model((tmp_path / "m").as_uri()).local_path == \
        str((tmp_path / "m").resolve())
    with pytest.raises(NotFound, match="does not exist"):
        lakeml.pyfunc.load_model(str(tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFound, match="has no MLmodel file"):
        lakeml.pyfunc.load_model(str(tmp_path / "empty"))


def test_fsspec_uri_is_downloaded_once_into_the_cache(tmp_path: Path, sk_model: Any,
                                                     iris: tuple[Any, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import fsspec

    monkeypatch.setenv("LAKEML_MODEL_CACHE", str(tmp_path / "cache"))
    lakeml.sklearn.save_model(sk_model, tmp_path / "m")
    fs = fsspec.filesystem("memory")
    fs.put(str(tmp_path / "m"), "/models/m", recursive=True)
    try:
        model = lakeml.pyfunc.load_model("memory://models/m")
        assert Path(model.local_path).parent == tmp_path / "cache"
        X, _ = iris
        np.testing.assert_array_equal(model.predict(X), sk_model.predict(X))
        fs.rm("/models/m", recursive=True)  # cached: no second download
        assert lakeml.pyfunc.load_model("memory://models/m").local_path == model.local_path
        with pytest.raises(NotFound, match="no MLmodel file"):
            lakeml.pyfunc.load_model("memory://models/other")
    finally:
        if fs.exists("/models"):
            fs.rm("/models", recursive=True)


def test_a_failed_download_leaves_no_staging_and_a_broken_cache_entry_is_replaced(
        tmp_path: Path, sk_model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    import fsspec

    from lakeml.errors import StoreUnavailable

    cache = tmp_path / "cache"
    monkeypatch.setenv("LAKEML_MODEL_CACHE", str(cache))
    lakeml.sklearn.save_model(sk_model, tmp_path / "m")
    fs = fsspec.filesystem("memory")
    fs.put(str(tmp_path / "m"), "/broken/m", recursive=True)
    try:
        real_get = type(fs).get_file

        def failing_get(self: Any, rpath: str, lpath: str, **kw: Any) -> Any:
            if rpath.endswith("MLmodel"):
                raise OSError("connection reset")
            return real_get(self, rpath, lpath, **kw)

        monkeypatch.setattr(type(fs), "get_file", failing_get)
        with pytest.raises(StoreUnavailable, match="connection reset"):
            lakeml.pyfunc.load_model("memory://broken/m")
        assert list(cache.iterdir()) == []  # no .download-* folder left behind
        monkeypatch.setattr(type(fs), "get_file", real_get)
        # a cache entry without MLmodel (say, copied in by hand and cut short)
        target = cache / hashlib.sha256(b"memory://broken/m").hexdigest()[:32]
        target.mkdir()
        (target / "model.pkl").write_bytes(b"half")
        model = lakeml.pyfunc.load_model("memory://broken/m")
        assert model.local_path == str(target) and (target / "MLmodel").is_file()
    finally:
        if fs.exists("/broken"):
            fs.rm("/broken", recursive=True)


def test_model_names_that_escape_the_run_are_refused(store_uri: str, sk_model: Any) -> None:
    with lakeml.start_run():
        for bad in ("../outside", "/abs", ""):
            with pytest.raises(InvalidArgument, match="model name"):
                lakeml.sklearn.log_model(sk_model, bad)


def test_sql_finds_runs_that_produced_lightgbm_models_with_high_val_auc(
        store_uri: str, breast_cancer: tuple[Any, Any]) -> None:
    import lightgbm as lgb
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    X, y = breast_cancer
    X_train, X_val, y_train, y_val = X[::2], X[1::2], y[::2], y[1::2]
    expected = set()
    shuffled = y_train.sample(frac=1.0, random_state=0).to_numpy()
    for labels in (y_train.to_numpy(), shuffled):  # a real model, and one fit to noise
        model = lgb.LGBMClassifier(n_estimators=20, num_leaves=4, verbose=-1, n_jobs=1)
        model.fit(X_train, labels)
        auc = roc_auc_score(y_val, model.predict_proba(X_val)[:, 1])
        with lakeml.start_run() as run:
            lakeml.log_metric("val_auc", auc)
            lakeml.lightgbm.log_model(model, "model", input_example=X_val.head(2))
        if auc > 0.9:
            expected.add(run.info.run_id)
    with lakeml.start_run():  # a good model of another flavor is not an answer
        lakeml.log_metric("val_auc", 0.99)
        lakeml.sklearn.log_model(LogisticRegression(max_iter=50).fit(X_train.iloc[:, :3],
                                                                     y_train), "model")
    assert 0 < len(expected) < 2  # the query has to tell the two LightGBM runs apart

    rows = lakeml.sql("""
        SELECT m.run_id, m.uri, m.size_bytes, m.signature
        FROM logged_models AS m
        JOIN latest_metrics AS l ON l.run_id = m.run_id AND l.key = 'val_auc'
        WHERE list_contains(m.flavors, 'lightgbm') AND l.value > 0.9
    """).fetchall()
    assert {r[0] for r in rows} == expected
    run_id, uri, size, signature = rows[0]
    assert uri == f"runs:/{run_id}/model"
    local = Path(lakeml.pyfunc.load_model(uri).local_path)
    assert size == sum(p.stat().st_size for p in local.rglob("*")
                       if p.is_file() and p.name != "MLmodel")
    assert json.loads(signature)["inputs"][0] == {"type": "double", "name": "mean_radius",
                                                  "required": True}
    flavors = lakeml.sql("SELECT flavors FROM logged_models ORDER BY created_time").fetchall()
    assert [sorted(f[0]) for f in flavors] == [["lightgbm", "python_function"]] * 2 + \
        [["python_function", "sklearn"]]


def test_runs_uri_in_an_experiment_with_its_own_artifact_location(
        store_uri: str, sk_model: Any, tmp_path: Path, iris: tuple[Any, Any]) -> None:
    elsewhere = tmp_path / "elsewhere"
    exp_id = lakeml.create_experiment("custom", artifact_location=str(elsewhere))
    with lakeml.start_run(experiment_id=exp_id) as run:
        info = lakeml.sklearn.log_model(sk_model, "model")
    model = lakeml.pyfunc.load_model(info.model_uri)
    assert Path(model.local_path) == elsewhere / run.info.run_id / "artifacts" / "model"
    X, _ = iris
    np.testing.assert_array_equal(model.predict(X.head()), sk_model.predict(X.head()))


def test_a_client_registers_runs_and_models_uris_of_its_own_store(
        tmp_path: Path, sk_model: Any) -> None:
    """No global store: Client(store).register_model("runs:/…") looks the run up in that
    store (it used to look in ./lakeml-store, answer NotFound and leave that folder)."""
    from lakeml import fluent

    store = str(tmp_path / "elsewhere")
    lakeml.set_store(store)
    with lakeml.start_run() as run:
        lakeml.sklearn.log_model(sk_model, "model")
    fluent.reset()  # no set_store, no LAKEML_STORE: the global store is ./lakeml-store
    client = lakeml.Client(store)
    first = client.register_model(f"runs:/{run.info.run_id}/model", "churn")
    assert (first.version, first.run_id) == (1, run.info.run_id)
    assert Path(first.storage_location, "MLmodel").is_file()
    again = client.register_model("models:/churn/1", "churn-copy")
    assert again.storage_location == first.storage_location
    assert not (tmp_path / "lakeml-store").exists()
    # a run of another store is still unknown here
    with pytest.raises(NotFound, match="no run with id"):
        lakeml.Client(str(tmp_path / "third")).register_model(
            f"runs:/{run.info.run_id}/model", "churn")
