"""The store the UI tests browse: an experiment of runs with params, metric histories
(one long enough to be downsampled), tags, a parent and child, artifacts of each
preview kind, a run named with an XSS string, and a registered model."""

from __future__ import annotations

import base64
from pathlib import Path

XSS = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"
LONG_STEPS = 5000
WIDE_KEYS = 10_000
MANY_RUNS = 120  # over the chart legend's limit (lakeml/ui/static/js/chart.js)
# a 2x2 red PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR4nGP4z8DAwMDAwMDAAAALAAHdZ3RvAAAAAElFTkSuQmCC")


def seed(store: str, tmp: Path) -> dict[str, str]:
    """Fill ``store``; returns the ids the tests look for."""
    import pyarrow as pa

    import lakeml

    client = lakeml.Client(store)
    exp = client.create_experiment("ui-demo")
    other = client.create_experiment("other experiment")
    client.create_run(other)
    ids: dict[str, str] = {"experiment": exp}
    for i in range(30):
        run = client.create_run(exp, run_name=f"run-{i:02d}", start_time=1_780_000_000_000 + i)
        rid = run.info.run_id
        client.log_param(rid, "lr", str(0.01 * (i + 1)))
        client.log_param(rid, "depth", str(i % 4))
        client.log_param(rid, "model", "tree" if i % 2 else "linear")
        client.log_metric(rid, "accuracy", 0.5 + i / 100, step=0)
        for step in range(20):
            client.log_metric(rid, "loss", 1.0 / (step + 1 + i), step=step)
        client.set_tag(rid, "team", "a" if i < 15 else "b")
        ids[f"run-{i:02d}"] = rid
    # a long history: downsampled on the way to the chart
    long_run = ids["run-00"]
    for step in range(LONG_STEPS):
        client.log_metric(long_run, "train_loss", 2.0 / (1 + step / 100) + (5 if step == 3333
                                                                            else 0), step=step)
    for other_id in (ids["run-01"],):
        for step in range(0, LONG_STEPS, 7):
            client.log_metric(other_id, "train_loss", 1.5 / (1 + step / 50), step=step)
    xss = client.create_run(exp, run_name=XSS)
    client.set_tag(xss.info.run_id, "note", XSS)
    client.log_param(xss.info.run_id, "lr", XSS)
    ids["xss"] = xss.info.run_id
    child = client.create_run(exp, run_name="child-run", parent_run_id=ids["run-00"])
    ids["child"] = child.info.run_id
    client.log_text(long_run, "hello <b>artifact</b>\nsecond line", "notes/readme.txt")
    client.log_text(long_run, "0123456789\n" * 150_000, "big.log")  # 1.65 MB
    client.log_dict(long_run, {"alpha": 1, "nested": {"b": [1, 2]}}, "config.json")
    png = tmp / "plot.png"
    png.write_bytes(PNG)
    client.log_artifact(long_run, str(png), "images")
    client.log_text(long_run, "artifact_path: model\nflavors: {}\n", "model/MLmodel")
    client.create_registered_model("ui-model", description="A model; <script>x</script>")
    client.create_model_version("ui-model", f"runs:/{long_run}/model", run_id=long_run)
    # an experiment whose one run holds WIDE_KEYS metric keys: the column chooser's case
    wide = client.create_experiment("wide keys")
    wide_run = client.create_run(wide, run_name="wide").info.run_id
    client.log_metric_histories(pa.table({"run_id": [wide_run] * WIDE_KEYS,
                                 "key": [f"k{j:05d}" for j in range(WIDE_KEYS)],
                                 "value": [float(j) for j in range(WIDE_KEYS)],
                                 "step": [0] * WIDE_KEYS,
                                 "timestamp": [1_780_000_000_000] * WIDE_KEYS}))
    ids["wide"], ids["wide_run"] = wide, wide_run
    # MANY_RUNS runs of one flat two-point "acc" curve: a chart past the legend's limit
    many = client.create_experiment("many runs")
    many_ids = [client.create_run(many, run_name=f"many-{i:03d}").info.run_id
                for i in range(MANY_RUNS)]
    client.log_metric_histories(pa.table({
        "run_id": [r for r in many_ids for _ in range(2)], "key": ["acc"] * 2 * MANY_RUNS,
        "value": [0.5] * 2 * MANY_RUNS, "step": [0, 1] * MANY_RUNS,
        "timestamp": [1_780_000_000_000] * 2 * MANY_RUNS}))
    ids["many"] = ",".join(many_ids)
    for i in range(30):
        client.set_terminated(ids[f"run-{i:02d}"])
    client.flush()
    return ids
