"""The artifact proxy, ``artifacts/list``, run inputs/models and MLflow 3's logged models
of ``lakeml server``, over plain HTTP against a real server, read back with lakeml."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import lakeml
from lakeml.errors import InvalidState
from lakeml.models import logged
from tests.server.conftest import Server, settled
from tests.server.test_api import get, new_run, post, unique

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def call(server: Server, method: str, path: str, *, status: int = 200, **kwargs: Any
         ) -> httpx.Response:
    response = httpx.request(method, f"{server.url}{path}", timeout=60, **kwargs)
    assert response.status_code == status, response.text
    return response


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    return body["error_code"]


@pytest.fixture
def run(server: Server) -> dict:
    eid = post(server, "experiments/create", {"name": unique("art")})["experiment_id"]
    run_id = new_run(server, eid)
    info = get(server, "runs/get", run_id=run_id)["run"]["info"]
    return {"experiment_id": eid, "run_id": run_id, "uri": info["artifact_uri"]}


def proxy_path(uri: str) -> str:
    assert uri.startswith("mlflow-artifacts:/"), uri
    return uri[len("mlflow-artifacts:/"):]


# ---- locations ------------------------------------------------------------------------------
def test_runs_and_experiments_show_proxy_locations_that_map_to_the_store(server: Server,
                                                                        run: dict) -> None:
    exp = get(server, "experiments/get", experiment_id=run["experiment_id"])["experiment"]
    assert exp["artifact_location"] == f"mlflow-artifacts:/{run['experiment_id']}"
    assert run["uri"] == f"mlflow-artifacts:/{run['experiment_id']}/{run['run_id']}/artifacts"
    settled(server)  # the server's journal is committed: read the store
    stored = lakeml.Client(server.store).get_run(run["run_id"]).info.artifact_uri
    assert stored == f"{server.store}/artifacts/{proxy_path(run['uri'])}"


def test_an_experiment_created_with_a_proxy_location_stores_the_real_one(server: Server
                                                                         ) -> None:
    eid = post(server, "experiments/create",
               {"name": unique("loc"), "artifact_location": "mlflow-artifacts:/team/x"}
               )["experiment_id"]
    assert lakeml.Client(server.store).get_experiment(eid).artifact_location == \
        f"{server.store}/artifacts/team/x"
    bad = call(server, "POST", "/api/2.0/mlflow/experiments/create", status=400,
               json={"name": unique("loc"), "artifact_location": "mlflow-artifacts:/../x"})
    assert error_code(bad) == "INVALID_PARAMETER_VALUE"


# ---- the proxy --------------------------------------------------------------------------------
def test_upload_is_streamed_to_the_store_and_downloads_list_and_deletes(server: Server,
                                                                       run: dict) -> None:
    base = proxy_path(run["uri"])
    chunk = os.urandom(1 << 16)

    def body() -> Iterator[bytes]:  # sent chunked: the server never sees a whole body
        for _ in range(80):  # 5 MiB
            yield chunk

    call(server, "PUT", f"{PROXY}/{base}/data/big.bin", content=body())
    call(server, "PUT", f"{PROXY}/{base}/data/note.txt", content=b"hello")
    settled(server)  # the server's journal is committed: read the store
    client = lakeml.Client(server.store)
    root = Path(client.get_run(run["run_id"]).info.artifact_uri)
    assert (root / "data" / "big.bin").read_bytes() == chunk * 80
    assert not [p for p in (root / "data").iterdir() if p.name.endswith(".part")]
    assert [(i.path, i.file_size) for i in client.list_artifacts(run["run_id"], "data")] == \
        [("data/big.bin", 80 << 16), ("data/note.txt", 5)]

    with httpx.stream("GET", f"{server.url}{PROXY}/{base}/data/big.bin", timeout=60) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-length"] == str(80 << 16)
        assert b"".join(resp.iter_bytes()) == chunk * 80
    note = call(server, "GET", f"{PROXY}/{base}/data/note.txt")
    assert note.content == b"hello" and note.headers["content-type"].startswith("text/plain")

    listed = call(server, "GET", PROXY, params={"path": f"{base}/data"}).json()
    assert listed == {"files": [{"path": "big.bin", "is_dir": False, "file_size": 80 << 16},
                                {"path": "note.txt", "is_dir": False, "file_size": 5}]}
    top = call(server, "GET", PROXY, params={"path": base}).json()
    assert top == {"files": [{"path": "data", "is_dir": True}]}

    call(server, "DELETE", f"{PROXY}/{base}/data/big.bin")
    assert not (root / "data" / "big.bin").exists() and (root / "data" / "note.txt").exists()
    call(server, "DELETE", f"{PROXY}/{base}/data")
    assert not (root / "data").exists()
    missing = call(server, "GET", f"{PROXY}/{base}/data/note.txt", status=404)
    assert error_code(missing) == "RESOURCE_DOES_NOT_EXIST"
    assert server.store not in missing.text  # the store's folder is not the caller's business
    assert error_code(call(server, "DELETE", f"{PROXY}/{base}/data", status=404)) == \
        "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize("path", [
    "..%2F..%2Fescape.txt", "%2E%2E/%2E%2E/escape.txt", "a/../../escape.txt",
    "%2Ftmp%2Fescape.txt", "/tmp/escape.txt", "c:/escape.txt", "a\\..\\..\\escape.txt",
])
@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_paths_out_of_the_artifact_root_are_refused(server: Server, method: str,
                                                    path: str) -> None:
    import http.client  # sends the path as written (httpx would resolve the dot segments)

    conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=60)
    try:
        conn.request(method, f"{PROXY}/{path}", body=b"evil" if method == "PUT" else None)
        response = conn.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        conn.close()
    assert status == 400, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE" and body["message"]
    assert not (Path(server.store).parent / "escape.txt").exists()
    assert not Path("/tmp/escape.txt").exists()


@pytest.mark.parametrize("path", ["../x", "/etc", "a/../../x"])
def test_listing_out_of_the_root_is_refused(server: Server, run: dict, path: str) -> None:
    assert error_code(call(server, "GET", PROXY, status=400, params={"path": path})) == \
        "INVALID_PARAMETER_VALUE"
    response = call(server, "GET", "/api/2.0/mlflow/artifacts/list", status=400,
                    params={"run_id": run["run_id"], "path": path})
    assert error_code(response) == "INVALID_PARAMETER_VALUE"


def test_an_upload_needs_a_file_path(server: Server, run: dict) -> None:
    base = proxy_path(run["uri"])
    call(server, "PUT", f"{PROXY}/{base}/dir/file.txt", content=b"x")
    onto_folder = call(server, "PUT", f"{PROXY}/{base}/dir", content=b"x", status=400)
    assert error_code(onto_folder) == "INVALID_PARAMETER_VALUE"
    under_file = call(server, "PUT", f"{PROXY}/{base}/dir/file.txt/inner.txt", content=b"x",
                      status=400)
    assert error_code(under_file) == "INVALID_PARAMETER_VALUE"
    assert server.store not in under_file.text
    assert call(server, "GET", f"{PROXY}/{base}/dir/file.txt").content == b"x"


@pytest.mark.parametrize("status", ["FINISHED", "FAILED", "KILLED"])
def test_uploads_into_ended_and_deleted_runs_are_taken_as_mlflow_takes_them(
        server: Server, run: dict, status: str) -> None:
    """MLflow's proxy knows paths, not runs: its client logs artifacts to ended runs
    (MlflowClient().log_artifact after end_run) and its server stores them. So does this
    one; lakeml's own clients take an ended run's too, and refuse a deleted run's."""
    base = proxy_path(run["uri"])
    post(server, "runs/update", {"run_id": run["run_id"], "status": status,
                                 "end_time": 1_700_000_000_000})
    assert get(server, "runs/get", run_id=run["run_id"])["run"]["info"]["status"] == status
    call(server, "PUT", f"{PROXY}/{base}/late/report.txt", content=b"after the end")
    post(server, "runs/delete", {"run_id": run["run_id"]})
    call(server, "PUT", f"{PROXY}/{base}/late/deleted.txt", content=b"after the delete")
    settled(server)  # the server's journal is committed: read the store
    client = lakeml.Client(server.store)
    root = Path(client.get_run(run["run_id"]).info.artifact_uri)
    assert (root / "late" / "report.txt").read_bytes() == b"after the end"
    assert (root / "late" / "deleted.txt").read_bytes() == b"after the delete"
    with pytest.raises(InvalidState, match="deleted"):
        client.log_text(run["run_id"], "x", "late/lib.txt")  # the library: not when deleted


# ---- artifacts/list ---------------------------------------------------------------------------
def test_artifacts_list_names_paths_from_the_run_root(server: Server, run: dict,
                                                     tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "one.txt").write_text("1")
    (tmp_path / "top.txt").write_text("22")
    settled(server)  # the server's journal is committed: read the store
    client = lakeml.Client(server.store)
    client.log_artifacts(run["run_id"], tmp_path)
    top = get(server, "artifacts/list", run_id=run["run_id"])
    assert top == {"root_uri": run["uri"], "files": [
        {"path": "d", "is_dir": True}, {"path": "top.txt", "is_dir": False, "file_size": 2}]}
    def listing(path: str) -> list[dict]:
        return call(server, "GET", "/api/2.0/mlflow/artifacts/list",
                    params={"run_id": run["run_id"], "path": path}).json()["files"]

    assert listing("d") == [{"path": "d/one.txt", "is_dir": False, "file_size": 1}]
    assert listing("top.txt") == []
    assert get(server, "artifacts/list", status=404, run_id="no-such-run")["error_code"] == \
        "RESOURCE_DOES_NOT_EXIST"
    assert get(server, "artifacts/list", status=400)["error_code"] == "INVALID_PARAMETER_VALUE"


# ---- runs/log-inputs, log-model, outputs ------------------------------------------------------
def test_log_inputs_records_datasets_with_their_context(server: Server, run: dict) -> None:
    dataset = {"name": "train", "digest": "abc123", "source_type": "local",
               "source": '{"uri": "/data/train.csv"}', "schema": '{"mlflow_colspec": []}',
               "profile": '{"num_rows": 3}'}
    post(server, "runs/log-inputs", {"run_id": run["run_id"], "datasets": [
        {"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": dataset}]})
    shown = get(server, "runs/get", run_id=run["run_id"])["run"]["inputs"]["dataset_inputs"]
    assert shown == [{"tags": [{"key": "mlflow.data.context", "value": "training"}],
                      "dataset": dataset}]
    (item,) = lakeml.Client(server.store).get_run(run["run_id"]).inputs.dataset_inputs
    assert item.context == "training" and item.dataset.digest == "abc123"
    assert item.dataset.profile == '{"num_rows": 3}'

    for bad in ([{"dataset": {"name": "x"}}], [{"tags": []}], ["not an object"]):
        response = post(server, "runs/log-inputs", {"run_id": run["run_id"], "datasets": bad},
                        status=400)
        assert response["error_code"] == "INVALID_PARAMETER_VALUE"
    assert post(server, "runs/log-inputs", {"run_id": "nope", "datasets": []},
                status=404)["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_log_model_records_the_lineage_row(server: Server, run: dict) -> None:
    model = {"artifact_path": "clf", "run_id": run["run_id"],
             "utc_time_created": "2026-12-05 00:00:00.000000", "model_uuid": "u-1",
             "flavors": {"python_function": {"loader_module": "mlflow.sklearn"},
                         "sklearn": {"pickled_model": "model.pkl"}}}
    post(server, "runs/log-model", {"run_id": run["run_id"], "model_json": json.dumps(model)})
    rows = lakeml.Client(server.store).sql(
        "SELECT model_uuid, artifact_path, flavors, loader_module, uri FROM logged_models "
        "WHERE run_id = ?", [run["run_id"]]).fetchall()
    assert rows == [("u-1", "clf", ["python_function", "sklearn"], "mlflow.sklearn",
                     f"runs:/{run['run_id']}/clf")]
    for model_json in ("not json", "[1]", json.dumps({"artifact_path": "x"})):
        response = post(server, "runs/log-model",
                        {"run_id": run["run_id"], "model_json": model_json}, status=400)
        assert response["error_code"] == "INVALID_PARAMETER_VALUE", model_json
    escape = {**model, "artifact_path": "../../x"}
    assert post(server, "runs/log-model", {"run_id": run["run_id"],
                                           "model_json": json.dumps(escape)},
                status=400)["error_code"] == "INVALID_PARAMETER_VALUE"


# ---- logged models ----------------------------------------------------------------------------
def test_logged_model_lifecycle(server: Server, run: dict) -> None:
    created = post(server, "logged-models", {
        "experiment_id": run["experiment_id"], "name": "net", "model_type": "agent",
        "source_run_id": run["run_id"], "tags": [{"key": "team", "value": "ml"}],
        "params": [{"key": "lr", "value": "0.1"}]})["model"]
    info = created["info"]
    model_id = info["model_id"]
    assert info["status"] == "LOGGED_MODEL_PENDING" and info["name"] == "net"
    assert info["artifact_uri"] == f"{run['uri']}/net"  # in the run, where lakeml looks
    assert created["data"]["params"] == [{"key": "lr", "value": "0.1"}]

    # a second model of the same name in the run goes to MLflow's own layout
    second = post(server, "logged-models", {"experiment_id": run["experiment_id"],
                                            "name": "net", "source_run_id": run["run_id"]})
    assert second["model"]["info"]["artifact_uri"] == (
        f"mlflow-artifacts:/{run['experiment_id']}/models/"
        f"{second['model']['info']['model_id']}/artifacts")

    models = f"{server.api}/logged-models"
    assert httpx.patch(f"{models}/{model_id}/tags", timeout=60,
                       json={"tags": [{"key": "stage", "value": "dev"}]}).status_code == 200
    assert httpx.delete(f"{models}/{model_id}/tags/team", timeout=60).status_code == 200
    post(server, f"logged-models/{model_id}/params",
         {"model_id": model_id, "params": [{"key": "depth", "value": "3"}]})
    mlmodel = "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n" \
              "utc_time_created: '2026-12-05 00:00:00'\n"
    call(server, "PUT", f"{PROXY}/{proxy_path(info['artifact_uri'])}/MLmodel",
         content=mlmodel.encode())
    for _ in range(2):  # finalizing again changes nothing
        done = httpx.patch(f"{models}/{model_id}", timeout=60,
                           json={"model_id": model_id, "status": "LOGGED_MODEL_READY"}).json()
        assert done["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    lineage = lakeml.Client(server.store).sql(
        "SELECT model_uuid, artifact_path, loader_module FROM logged_models WHERE run_id = ?",
        [run["run_id"]]).fetchall()
    assert lineage == [(model_id, "net", "mlflow.sklearn")]
    got = get(server, f"logged-models/{model_id}")["model"]
    assert got["info"]["tags"] == [{"key": "stage", "value": "dev"}]
    assert {p["key"]: p["value"] for p in got["data"]["params"]} == {"lr": "0.1", "depth": "3"}

    def search(filter_string: str, **extra: Any) -> list[str]:
        body = {"experiment_ids": [run["experiment_id"]], "filter": filter_string, **extra}
        return [m["info"]["model_id"] for m in post(server, "logged-models/search", body)
                ["models"]]

    assert search("name = 'net' AND tags.stage = 'dev'") == [model_id]
    assert search("status = 'READY'") == [model_id]
    assert set(search("")) == {model_id, second["model"]["info"]["model_id"]}
    assert search("", order_by=[{"field_name": "creation_timestamp", "ascending": True}],
                  max_results=1) == [model_id]
    assert search("tags.stage IS NULL") == [second["model"]["info"]["model_id"]]

    assert httpx.request("DELETE", f"{models}/{model_id}", timeout=60,
                         json={"model_id": model_id}).status_code == 200
    assert get(server, f"logged-models/{model_id}", status=404)["error_code"] == \
        "RESOURCE_DOES_NOT_EXIST"
    assert search("name = 'net'") == [second["model"]["info"]["model_id"]]
    state = logged.get(lakeml.Client(server.store), model_id, allow_deleted=True)
    assert state.deleted and state.tags == {"stage": "dev"} and state.status == logged.READY


def test_logged_model_errors(server: Server, run: dict) -> None:
    models = f"{server.api}/logged-models"
    cases = [
        ("POST", "logged-models", {"name": "x"}, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", "logged-models", {"experiment_id": "999999999"}, 404,
         "RESOURCE_DOES_NOT_EXIST"),
        ("POST", "logged-models", {"experiment_id": run["experiment_id"], "name": "../x"},
         400, "INVALID_PARAMETER_VALUE"),
        ("POST", "logged-models", {"experiment_id": run["experiment_id"],
                                   "source_run_id": "no-run"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("POST", "logged-models/search", {}, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", "logged-models/search", {"experiment_ids": ["0"], "filter": "metrics.x > 1"},
         400, "INVALID_PARAMETER_VALUE"),
        ("POST", "logged-models/search", {"experiment_ids": ["0"], "filter": "name = "},
         400, "INVALID_PARAMETER_VALUE"),
        ("POST", "logged-models/search", {"experiment_ids": ["0"],
                                          "order_by": [{"field_name": "metrics.x"}]},
         400, "INVALID_PARAMETER_VALUE"),
        ("PATCH", "logged-models/m-none", {"status": "LOGGED_MODEL_READY"}, 404,
         "RESOURCE_DOES_NOT_EXIST"),
        ("GET", "logged-models/m-none", None, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("POST", "runs/outputs", {"run_id": run["run_id"], "models": [{"model_id": "m-x"}]},
         404, "RESOURCE_DOES_NOT_EXIST"),
        ("POST", "runs/outputs", {"run_id": run["run_id"]}, 400, "INVALID_PARAMETER_VALUE"),
    ]
    for method, path, body, status, code in cases:
        response = httpx.request(method, f"{server.api}/{path}", timeout=60,
                                 content=None if body is None else json.dumps(body),
                                 headers={"Content-Type": "application/json"})
        assert response.status_code == status, (method, path, body, response.text)
        assert error_code(response) == code, (method, path, body)
    created = post(server, "logged-models", {"experiment_id": run["experiment_id"]})["model"]
    assert created["info"]["name"]  # a generated name, as MLflow gives one
    bad_status = httpx.patch(f"{models}/{created['info']['model_id']}", timeout=60,
                             json={"status": "SHIPPED"})
    assert bad_status.status_code == 400 and error_code(bad_status) == "INVALID_PARAMETER_VALUE"
    post(server, "runs/outputs", {"run_id": run["run_id"],
                                  "models": [{"model_id": created["info"]["model_id"]}]})


@pytest.mark.slow
def test_two_workers_serve_one_models_state_and_files(tmp_path: Path) -> None:
    """Each request may reach either worker: a logged model created, tagged or finalized
    on one is what the next request reads, and a file uploaded through one is listed by
    the other."""
    from tests.server.conftest import start_server

    with start_server(tmp_path, "--workers", "2") as two:
        eid = post(two, "experiments/create", {"name": "w"})["experiment_id"]
        run_id = new_run(two, eid)
        base = proxy_path(get(two, "runs/get", run_id=run_id)["run"]["info"]["artifact_uri"])
        for i in range(6):  # a new connection per request: the kernel spreads them
            model = post(two, "logged-models", {"experiment_id": eid, "name": f"m{i}",
                                                "source_run_id": run_id})["model"]["info"]
            model_id = model["model_id"]
            assert get(two, f"logged-models/{model_id}")["model"]["info"]["name"] == f"m{i}"
            assert httpx.patch(f"{two.api}/logged-models/{model_id}/tags", timeout=60,
                               json={"tags": [{"key": "i", "value": str(i)}]}
                               ).status_code == 200
            done = httpx.patch(f"{two.api}/logged-models/{model_id}", timeout=60,
                               json={"status": "LOGGED_MODEL_READY"}).json()["model"]
            assert done["info"]["tags"] == [{"key": "i", "value": str(i)}]
            call(two, "PUT", f"{PROXY}/{base}/f{i}.txt", content=str(i).encode())
            listed = call(two, "GET", PROXY, params={"path": base}).json()["files"]
            assert f"f{i}.txt" in [f["path"] for f in listed]
        found = post(two, "logged-models/search",
                     {"experiment_ids": [eid], "filter": "status = 'READY'"})["models"]
        assert sorted(m["info"]["name"] for m in found) == [f"m{i}" for i in range(6)]
