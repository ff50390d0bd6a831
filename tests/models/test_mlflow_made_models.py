"""Models in the folder layout MLflow 3's client writes load in lakeml without mlflow.

The folders are built here as MLflow 3.17 writes them for ``mlflow.sklearn.log_model``
(MLmodel naming ``mlflow.sklearn`` as the pyfunc loader, the estimator in skops or
cloudpickle format); tests/server/test_mlflow_models.py has the real MLflow client make
one through the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import lakeml
from lakeml.errors import NotSupported
from lakeml.models.pyfunc_model import load_local


def mlflow_folder(folder: Path, model: Any, serialization: str) -> Path:
    file = "model.skops" if serialization == "skops" else "model.pkl"
    folder.mkdir()
    if serialization == "skops":
        import skops.io

        skops.io.dump(model, folder / file)
    else:
        import cloudpickle

        (folder / file).write_bytes(cloudpickle.dumps(model))
    mlmodel = {
        "artifact_path": "mlflow-artifacts:/1/abc/artifacts/model",
        "flavors": {
            "python_function": {"loader_module": "mlflow.sklearn", "model_path": file,
                                "predict_fn": "predict", "python_version": "3.11.7",
                                "env": {"conda": "conda.yaml",
                                        "virtualenv": "python_env.yaml"}},
            "sklearn": {"code": None, "pickled_model": file,
                        "serialization_format": serialization, "sklearn_version": "1.9.1",
                        "skops_trusted_types": None},
        },
        "mlflow_version": "3.17.2", "model_id": "m-0123", "model_uuid": "m-0123",
        "utc_time_created": "2026-12-05 03:25:11.980393",
        "signature": {"inputs": '[{"type": "double", "name": "sepal_length", "required": '
                                'true}, {"type": "double", "name": "sepal_width", "required":'
                                ' true}, {"type": "double", "name": "petal_length", '
                                '"required": true}, {"type": "double", "name": '
                                '"petal_width", "required": true}]',
                      "outputs": '[{"type": "long", "required": true}]', "params": None},
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return folder


@pytest.mark.parametrize("serialization", ["skops", "cloudpickle"])
def test_an_mlflow_sklearn_model_loads_with_lakeml(tmp_path: Path, sk_model: Any,
                                                   iris: tuple[Any, Any],
                                                   serialization: str) -> None:
    X, _ = iris
    folder = mlflow_folder(tmp_path / "model", sk_model, serialization)
    model = load_local(str(folder))
    assert model.loader_module == "mlflow.sklearn"  # as written: lakeml's module loads it
    assert (model.predict(X) == sk_model.predict(X)).all()
    assert (lakeml.sklearn.load_model(str(folder)).predict(X) == sk_model.predict(X)).all()


def test_an_mlflow_loader_lakeml_has_no_flavor_for_stays_mlflows(tmp_path: Path,
                                                                 sk_model: Any) -> None:
    folder = mlflow_folder(tmp_path / "model", sk_model, "skops")
    conf = yaml.safe_load((folder / "MLmodel").read_text())
    conf["flavors"]["python_function"]["loader_module"] = "mlflow.transformers"
    (folder / "MLmodel").write_text(yaml.safe_dump(conf))
    # refused by name, with the loaders lakeml reads itself (no attempt to import MLflow)
    with pytest.raises(NotSupported, match="'mlflow.transformers'.*mlflow.sklearn"):
        load_local(str(folder))


def test_logged_model_uris_are_told_from_registry_uris() -> None:
    from lakeml.models.uri import logged_model_id

    model_id = "m-" + "0123456789abcdef" * 2
    assert logged_model_id(f"models:/{model_id}") == model_id
    assert logged_model_id(f"models:/{model_id}/") == model_id
    for registry_uri in ("models:/churn/1", "models:/churn@champion", "models:/m-1/2",
                         f"models:/{model_id}/1", "models:/m-xyz"):
        assert logged_model_id(registry_uri) is None, registry_uri
