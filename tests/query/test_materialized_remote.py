"""The view tables of a store on S3 (moto on loopback): its data files are read from
local copies named ``<digest>-<name>``, which the commit log's file names must still
match, or a compaction would be taken for changed rows."""

from __future__ import annotations

from deltalake import DeltaTable

import lakeml
from lakeml.query import materialized
from lakeml.query.materialized import materialize
from tests.query.test_materialized import view_rows


def held_tags(client: lakeml.Client) -> list[tuple]:
    table = DeltaTable(materialized.table_uri(client.store, "tags"),
                       storage_options=client.store.storage_options or None)
    return sorted(tuple(row.values()) for row in table.to_pyarrow_table().to_pylist())


def test_a_compaction_of_a_remote_store_changes_no_run(s3_env):
    from tests.object_store import fresh_prefix

    client = lakeml.Client(fresh_prefix())
    exp = client.create_experiment("remote")
    runs = []
    for i in range(4):  # a file of tags per run
        runs.append(client.create_run(exp, run_name=f"r{i}").info.run_id)
        client.set_tag(runs[-1], "team", "a")
        client.flush()
    materialize(client.store, ["tags"])
    client.store.maintenance.compact(["tags"])
    assert [d.mode for d in materialize(client.store, ["tags"])] == ["unchanged"]
    client.set_tag(runs[2], "stage", "remote")
    client.flush()
    [done] = materialize(client.store, ["tags"])
    assert done.mode == "incremental"
    # only runs[2]'s rows were written, not those of every run in the compacted file
    assert done.rows == sum(1 for row in view_rows(client, "tags") if runs[2] in row)
    assert held_tags(client) == sorted(view_rows(client, "tags"))
