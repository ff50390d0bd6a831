"""A local store whose path needs percent-encoding in a URI (a space, a ``%``): deltalake
lists its data files as encoded URIs, which DuckDB and pyarrow would not find."""

from __future__ import annotations

from pathlib import Path

from lakeml.client import Client


def test_a_store_under_a_folder_with_a_space_and_a_percent_sign(tmp_path: Path) -> None:
    client = Client(str(tmp_path / "my runs 100%"))
    run = client.create_run(run_name="spaced")
    client.log_param(run.info.run_id, "lr", "0.1")
    client.log_metric(run.info.run_id, "loss", 0.5)
    client.set_terminated(run.info.run_id, "FINISHED")
    client.flush()
    found = client.search_runs(["0"], filter_string="params.lr = '0.1'")
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert found[0].data.metrics == {"loss": 0.5}
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [0.5]
    version, files = client.tracking.store.snapshot_files("runs")
    assert files and all(Path(f).is_file() for f in files)
