"""Every flavor round-trips: save, load native, load pyfunc, same predictions."""

from __future__ import annotations

import pickle
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest

import lakeml
import lakeml.lightgbm
import lakeml.pyfunc
import lakeml.pytorch
import lakeml.sklearn
import lakeml.xgboost
from lakeml.errors import AlreadyExists, InvalidArgument


def _sklearn_pipeline(X: pd.DataFrame, y: pd.Series) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5,
                                                                  random_state=0)).fit(X, y)


def _sklearn_regressor_on_array(X: pd.DataFrame, y: pd.Series) -> Any:
    from sklearn.linear_model import Ridge

    return Ridge().fit(X.to_numpy(), y.to_numpy().astype(float))


def _xgb_classifier(X: pd.DataFrame, y: pd.Series) -> Any:
    import xgboost as xgb

    return xgb.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(X, y)


def _xgb_booster(X: pd.DataFrame, y: pd.Series) -> Any:
    import xgboost as xgb

    return xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2,
                      "nthread": 1}, xgb.DMatrix(X, label=y), num_boost_round=5)


def _lgb_classifier(X: pd.DataFrame, y: pd.Series) -> Any:
    import lightgbm as lgb

    return lgb.LGBMClassifier(n_estimators=5, num_leaves=4, min_child_samples=5, verbose=-1,
                              n_jobs=1).fit(X, y)


def _lgb_booster(X: pd.DataFrame, y: pd.Series) -> Any:
    import lightgbm as lgb

    params = {"objective": "multiclass", "num_class": 3, "num_leaves": 4, "verbose": -1,
              "min_data_in_leaf": 5, "num_threads": 1}
    return lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=5)


def _native_predict(model: Any, X: pd.DataFrame) -> Any:
    import lightgbm as lgb
    import xgboost as xgb

    if isinstance(model, xgb.Booster):
        return model.predict(xgb.DMatrix(X))
    if isinstance(model, lgb.Booster):
        return model.predict(X)
    if getattr(model, "feature_names_in_", None) is None and hasattr(model, "coef_"):
        return model.predict(X.to_numpy())
    return model.predict(X)


CASES: dict[str, tuple[Any, Callable[[pd.DataFrame, pd.Series], Any]]] = {
    "sklearn-pipeline": (lakeml.sklearn, _sklearn_pipeline),
    "sklearn-array-fit": (lakeml.sklearn, _sklearn_regressor_on_array),
    "xgboost-classifier": (lakeml.xgboost, _xgb_classifier),
    "xgboost-booster": (lakeml.xgboost, _xgb_booster),
    "lightgbm-classifier": (lakeml.lightgbm, _lgb_classifier),
    "lightgbm-booster": (lakeml.lightgbm, _lgb_booster),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest, iris: tuple[Any, Any]) -> tuple[Any, Any]:
    flavor, train = CASES[request.param]
    return flavor, train(*iris)


def test_save_load_native_and_pyfunc_predict_the_same(case: tuple[Any, Any], tmp_path: Any,
                                                      iris: tuple[Any, Any]) -> None:
    flavor, model = case
    X, _ = iris
    expected = _native_predict(model, X)
    path = tmp_path / "m"
    flavor.save_model(model, path, input_example=X.head(3))

    native = flavor.load_model(str(path))
    assert type(native) is type(model)
    np.testing.assert_allclose(_native_predict(native, X), expected, rtol=1e-6)

    pyfunc = lakeml.pyfunc.load_model(str(path))
    np.testing.assert_allclose(np.asarray(pyfunc.predict(X)), expected, rtol=1e-6)
    meta = pyfunc.metadata
    assert set(meta.flavors) == {"python_function", flavor.FLAVOR_NAME}
    assert meta.flavors["python_function"]["loader_module"] == flavor.__name__
    assert [s.name for s in meta.signature.inputs.specs] == list(X.columns)
    assert meta.signature.outputs is not None


def test_log_model_then_load_by_runs_uri(case: tuple[Any, Any], store_uri: str,
                                         iris: tuple[Any, Any]) -> None:
    flavor, model = case
    X, _ = iris
    with lakeml.start_run() as run:
        info = flavor.log_model(model, "clf", input_example=X.head(2))
    assert info.model_uri == f"runs:/{run.info.run_id}/clf"
    assert info.run_id == run.info.run_id
    files = {f.path for f in lakeml.Client().list_artifacts(run.info.run_id, "clf")}
    assert {"clf/MLmodel", "clf/requirements.txt", "clf/python_env.yaml",
            "clf/input_example.json"} <= files
    loaded = lakeml.pyfunc.load_model(info.model_uri)
    assert loaded.metadata.run_id == run.info.run_id
    assert loaded.metadata.artifact_path == "clf"
    np.testing.assert_allclose(np.asarray(loaded.predict(X.head(10))),
                               _native_predict(model, X.head(10)), rtol=1e-6)


def test_pyfunc_model_pickles_as_its_path(sk_model: Any, tmp_path: Any,
                                          iris: tuple[Any, Any]) -> None:
    X, _ = iris
    lakeml.sklearn.save_model(sk_model, tmp_path / "m")
    model = lakeml.pyfunc.load_model(str(tmp_path / "m"))
    data = pickle.dumps(model)
    assert len(data) < 300  # the path, not the estimator
    first, second = pickle.loads(data), pickle.loads(data)
    assert first is second  # loaded once per process
    np.testing.assert_array_equal(first.predict(X), sk_model.predict(X))


def test_log_model_starts_a_run_when_none_is_active(sk_model: Any, store_uri: str) -> None:
    assert lakeml.active_run() is None
    info = lakeml.sklearn.log_model(sk_model, "model")
    assert lakeml.active_run().info.run_id == info.run_id
    lakeml.end_run()


def test_save_refuses_an_existing_folder(sk_model: Any, tmp_path: Any) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("mine")
    with pytest.raises(AlreadyExists, match="already exists"):
        lakeml.sklearn.save_model(sk_model, tmp_path / "m")
    assert (tmp_path / "m" / "keep.txt").read_text() == "mine"


def test_wrong_model_type_is_named(tmp_path: Any) -> None:
    with pytest.raises(InvalidArgument, match="xgboost.Booster or XGBModel, got dict"):
        lakeml.xgboost.save_model({"not": "a model"}, tmp_path / "x")
    with pytest.raises(InvalidArgument, match="lightgbm.Booster or LGBMModel, got str"):
        lakeml.lightgbm.save_model("nope", tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_native_loader_rejects_another_flavor(sk_model: Any, tmp_path: Any) -> None:
    lakeml.sklearn.save_model(sk_model, tmp_path / "m")
    with pytest.raises(InvalidArgument, match="not an xgboost model"):
        lakeml.xgboost.load_model(str(tmp_path / "m"))
    # the pytorch loader checks the flavor before importing torch (torch need not be installed)
    with pytest.raises(InvalidArgument, match=r"not a pytorch model; its flavors: "
                                              r"\['python_function', 'sklearn'\]"):
        lakeml.pytorch.load_model(str(tmp_path / "m"))


def test_sklearn_cloudpickle_keeps_a_lambda(tmp_path: Any, iris: tuple[Any, Any]) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = iris
    pipe = make_pipeline(FunctionTransformer(lambda d: d * 2.0),
                         LogisticRegression(max_iter=1000)).fit(X, y)
    with pytest.raises(InvalidArgument, match="serialization_format='cloudpickle'"):
        lakeml.sklearn.save_model(pipe, tmp_path / "a")
    lakeml.sklearn.save_model(pipe, tmp_path / "b", serialization_format="cloudpickle")
    loaded = lakeml.pyfunc.load_model(str(tmp_path / "b"))
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    assert "cloudpickle==" in (tmp_path / "b" / "requirements.txt").read_text()


def test_pyfunc_predict_fn_predict_proba(sk_model: Any, tmp_path: Any,
                                         iris: tuple[Any, Any]) -> None:
    X, _ = iris
    lakeml.sklearn.save_model(sk_model, tmp_path / "m", pyfunc_predict_fn="predict_proba")
    out = lakeml.pyfunc.load_model(str(tmp_path / "m")).predict(X.head(4))
    np.testing.assert_allclose(out, sk_model.predict_proba(X.head(4)))
    with pytest.raises(InvalidArgument, match="no method 'decision_fn'"):
        lakeml.sklearn.save_model(sk_model, tmp_path / "n", pyfunc_predict_fn="decision_fn")


def test_every_registered_flavor_has_the_whole_interface() -> None:
    import inspect

    from lakeml.models.flavors import FLAVORS, flavor_module

    for name in FLAVORS:
        face = flavor_module(name)
        assert face.FLAVOR_NAME == name
        assert face.__name__ == FLAVORS[name]
        assert face.__name__.removeprefix("lakeml.") in dir(lakeml)  # reachable lazily
        for fn in ("save_model", "log_model", "load_model", "_load_pyfunc"):
            assert callable(getattr(face, fn)), (name, fn)
        params = list(inspect.signature(face.log_model).parameters)
        assert params[1:5] == ["name", "signature", "input_example", "registered_model_name"]
    with pytest.raises(InvalidArgument, match="unknown flavor 'no-such-flavor'"):
        flavor_module("no-such-flavor")
