"""The UI's JSON API over HTTP, against the session's real server (no browser)."""

from __future__ import annotations

import httpx
import pytest

from tests.ui.seed import LONG_STEPS, WIDE_KEYS

UI_HEADER = {"X-Lakeml-UI": "1"}  # the header the UI's API asks of every request


@pytest.fixture(scope="module")
def get(ui_server):
    server, _ = ui_server

    def get(route: str, /, **params):
        return httpx.get(f"{server.url}/ajax-api/lakeml{route}", params=params, timeout=30,
                         headers=UI_HEADER)
    return get


@pytest.fixture(scope="module")
def ids(ui_server):
    return ui_server[1]


def test_pages_of_runs_chain_to_the_whole_ordered_result(get, ids):
    """Server-side paging: pages of 7, followed by their tokens, are the one big page."""
    args = {"experiment_id": ids["experiment"], "order": "metrics.loss ASC",
            "column": "metrics.loss"}
    whole = get("/runs", max_results=100, **args).json()
    assert whole["next_page_token"] is None and len(whole["runs"]) == 32
    paged, token = [], None
    while True:
        body = get("/runs", max_results=7, page_token=token or "", **args).json()
        paged += body["runs"]
        token = body["next_page_token"]
        if not token:
            break
    assert [r["run_id"] for r in paged] == [r["run_id"] for r in whole["runs"]]
    losses = [r["cells"]["metrics.loss"] for r in paged if r["cells"]["metrics.loss"] is not None]
    assert losses == sorted(losses) and len(losses) == 30
    assert set(paged[0]["cells"]) == {"metrics.loss"}  # only the columns asked for


def test_a_bad_filter_answers_400_with_the_caret_message(get, ids):
    r = get("/runs", experiment_id=ids["experiment"], filter="params.lr = ")
    assert r.status_code == 400
    body = r.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert body["message"].splitlines()[-1].strip() == "^"


@pytest.mark.parametrize(("path", "params", "named"), [
    ("/runs", {"column": "weights.x"}, "weights.x"),
    ("/runs", {"max_results": "lots"}, "max_results"),
    ("/compare", {"run_id": "x"}, "2 to 1000"),
    ("/metric-history", {"key": "loss", "max_points": "2"}, "max_points"),
    ("/artifact", {"path": "../../etc/passwd"}, "../../etc/passwd"),
    ("/experiments", {"view": "gone"}, "gone"),
])
def test_bad_requests_name_the_bad_value(get, ids, path, params, named):
    base = {"experiment_id": ids["experiment"], "run_id": ids["run-00"]}
    r = get(path, **{**base, **params})
    assert r.status_code == 400, r.text
    assert named in r.json()["message"]


def test_a_long_history_is_cut_to_max_points_with_its_spike(get, ids):
    body = get("/metric-history", run_id=[ids["run-00"], ids["run-01"], ids["run-02"]],
               key="train_loss", max_points=500).json()
    long, other, none = body["series"]
    assert long["points"] == LONG_STEPS and len(long["value"]) <= 500
    assert max(long["value"]) > 5  # the one-step spike at step 3333
    assert 3333 in long["step"]
    assert long["step"] == sorted(long["step"]) and len(long["timestamp"]) == len(long["step"])
    assert other["points"] == len(range(0, LONG_STEPS, 7)) and len(other["value"]) <= 500
    assert none == {"run_id": ids["run-02"], "points": 0, "bucket_width": None, "step": [],
                    "timestamp": [], "value": []}


def test_artifact_previews_are_sent_inert(get, ids):
    text = get("/artifact", run_id=ids["run-00"], path="notes/readme.txt")
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    assert text.headers["x-content-type-options"] == "nosniff"
    assert text.headers["content-security-policy"].startswith("sandbox")
    assert text.text.startswith("hello <b>artifact</b>")
    image = get("/artifact", run_id=ids["run-00"], path="images/plot.png")
    assert image.headers["content-type"] == "image/png" and image.content[:4] == b"\x89PNG"
    missing = get("/artifact", run_id=ids["run-00"], path="nope.txt")
    assert missing.status_code == 404 and "nope.txt" in missing.json()["message"]


def test_the_keys_of_an_experiment_count_their_runs(get, ids):
    keys = get("/keys", experiment_id=ids["experiment"]).json()
    metrics = {k["key"]: k["runs"] for k in keys["metrics"]}
    assert metrics == {"accuracy": 30, "loss": 30, "train_loss": 2}
    assert {"key": "team", "runs": 30} in keys["tags"]


def test_compare_marks_what_differs(get, ids):
    body = get("/compare", run_id=[ids["run-00"], ids["run-02"]]).json()
    params = {r["key"]: r for r in body["params"]}
    assert params["model"] == {"key": "model", "values": ["linear", "linear"],
                               "differs": False}
    assert params["depth"]["differs"] and params["depth"]["values"] == ["0", "2"]


def test_sql_is_read_only(ui_server):
    server, _ = ui_server

    def sql(q: str) -> httpx.Response:
        return httpx.post(f"{server.url}/ajax-api/lakeml/sql", json={"q": q}, timeout=30,
                          headers=UI_HEADER)
    ok = sql("SELECT count(*) AS n FROM runs WHERE run_name LIKE 'run-%'").json()
    assert ok["columns"] == ["n"] and ok["rows"] == [[30]]
    refused = sql("CREATE TABLE t AS SELECT 1")
    assert refused.status_code == 400


def test_the_pages_are_served_with_a_strict_policy(ui_server):
    server, _ = ui_server
    index = httpx.get(server.url + "/")
    assert index.status_code == 200 and '<script type="module"' in index.text
    assert "default-src 'self'" in index.headers["content-security-policy"]
    vendored = httpx.get(server.url + "/static/vendor/uplot/uPlot.esm.js")
    assert vendored.status_code == 200 and "export { uPlot as default }" in vendored.text
    # the REST API is still there beside the UI
    assert httpx.get(server.api + "/experiments/search",
                     params={"max_results": 5}).status_code == 200


def test_compare_takes_a_post_of_many_run_ids_and_names_an_unknown_one(ui_server, ids):
    server, _ = ui_server
    runs = [ids[f"run-{i:02d}"] for i in range(30)]
    r = httpx.post(f"{server.url}/ajax-api/lakeml/compare", json={"run_id": runs}, timeout=30,
                   headers=UI_HEADER)
    assert r.status_code == 200
    body = r.json()
    assert [x["run_id"] for x in body["runs"]] == runs  # in the order asked
    assert [x["run_name"] for x in body["runs"][:2]] == ["run-00", "run-01"]
    accuracy = next(m for m in body["metrics"] if m["key"] == "accuracy")
    assert accuracy["values"][:3] == [0.5, 0.51, 0.52] and accuracy["differs"]
    gone = httpx.post(f"{server.url}/ajax-api/lakeml/compare",
                      json={"run_id": [runs[0], "0badc0ffee"]}, timeout=30,
                      headers=UI_HEADER)
    assert gone.status_code == 404 and "0badc0ffee" in gone.json()["message"]
    quote = httpx.post(f"{server.url}/ajax-api/lakeml/compare",
                       json={"run_id": [runs[0], "x')OR('1"]}, timeout=30, headers=UI_HEADER)
    assert quote.status_code == 404  # a quote in an id stays part of the id


def test_a_page_token_of_another_search_is_refused(get, ids):
    first = get("/runs", experiment_id=ids["experiment"], max_results=5).json()
    other = get("/runs", experiment_id=ids["experiment"], max_results=5,
                filter="params.depth = '1'", page_token=first["next_page_token"])
    assert other.status_code == 400 and "different search" in other.json()["message"]


def test_sql_results_download_as_csv_and_parquet(ui_server):
    import io

    import pyarrow.parquet as pq

    def get(path: str, **body: str) -> httpx.Response:  # a POST of JSON: the box's only way
        return httpx.post(f"{ui_server[0].url}/ajax-api/lakeml{path}", json=body, timeout=30,
                          headers=UI_HEADER)

    q = "SELECT key, count(*) AS n FROM params GROUP BY key ORDER BY key"
    csv = get("/sql-download", q=q)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert csv.text.splitlines() == ['"key","n"', '"depth",30', '"lr",31', '"model",30']
    parquet = get("/sql-download", q=q, format="parquet")
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.to_pydict() == {"key": ["depth", "lr", "model"], "n": [30, 31, 30]}
    assert get("/sql-download", q=q, format="xlsx").status_code == 400


def test_a_run_of_ten_thousand_metrics_sends_a_searchable_thousand(get, ids):
    body = get("/run", run_id=ids["wide_run"]).json()
    assert body["counts"]["metrics"] == WIDE_KEYS and len(body["metrics"]) == 1000
    assert [m["key"] for m in body["metrics"][:2]] == ["k00000", "k00001"]
    found = get("/run", run_id=ids["wide_run"], q="K0999").json()
    assert [m["key"] for m in found["metrics"]] == [f"k0999{d}" for d in range(10)]
    assert found["metrics"][-1]["value"] == 9999.0


def test_a_text_preview_is_the_head_of_a_big_file(get, ids):
    from lakeml.ui.artifacts import MAX_TEXT

    r = get("/artifact", run_id=ids["run-00"], path="big.log")
    assert r.status_code == 200 and len(r.content) == MAX_TEXT
    assert r.headers["x-lakeml-truncated"] == str(MAX_TEXT)
    assert r.text.startswith("0123456789\n0123456789\n")


def test_runs_grouped_by_a_param_with_metric_statistics(get, ids):
    body = get("/groups", experiment_id=ids["experiment"], by="params.model",
               metric=["metrics.accuracy", "metrics.nope"],
               filter="attributes.status = 'FINISHED'").json()
    assert body["metrics"] == ["metrics.accuracy"] and not body["truncated"]
    groups = {g["value"]: g for g in body["groups"]}
    assert set(groups) == {"linear", "tree"}
    linear = groups["linear"]  # runs 0, 2, ..., 28: accuracy 0.5 + i / 100
    assert linear["runs"] == 15
    stats = linear["metrics"]["metrics.accuracy"]
    assert stats["count"] == 15 and stats["min"] == 0.5 and stats["max"] == 0.78
    assert abs(stats["mean"] - 0.64) < 1e-9
    bad = get("/groups", experiment_id=ids["experiment"], by="metrics.loss")
    assert bad.status_code == 400 and "metrics.loss" in bad.json()["message"]
