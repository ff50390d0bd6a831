"""Row builders: one per table, generated from schemas.py, so column order is written once."""

from __future__ import annotations

import inspect
import pickle
import time
from pathlib import Path

import pytest

from lakeml import times
from lakeml.errors import InvalidArgument
from lakeml.store import Store, rows, schemas
from lakeml.store.writer import Writer


@pytest.mark.parametrize("table", list(schemas.TABLES))
def test_every_table_has_a_builder_whose_parameters_are_its_columns(table: str) -> None:
    schema = schemas.TABLES[table]
    build = rows.ROWS[table]
    parameters = [p.name for p in inspect.signature(build).parameters.values()
                  if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert parameters == schema.names
    assert build(**{name: i for i, name in enumerate(schema.names)}) == \
        tuple(range(len(schema.names)))
    assert build() == (None,) * len(schema.names)  # a column not given is None


def test_the_named_builders_are_the_tables_builders() -> None:
    for table in set(schemas.TABLES) - set(schemas.DERIVED):
        assert getattr(rows, table) is rows.ROWS[table]
    assert Store.rows is rows


def test_an_unknown_column_is_refused_by_name() -> None:
    with pytest.raises(InvalidArgument, match="'colour'") as info:
        rows.tags(run_id="r", key="k", colour="red")
    assert "seq" in str(info.value)  # and says which columns there are
    with pytest.raises(InvalidArgument, match="no column 'rn_id'"):
        rows.runs(rn_id="r")


def test_builders_take_keywords_only() -> None:
    with pytest.raises(TypeError):
        rows.params("r", "k", "v", 1)  # positions would write the column order again


def test_append_metric_takes_the_metrics_columns_in_schema_order() -> None:
    # log_metric's fast path builds its tuple without a builder: its parameters are the order
    parameters = list(inspect.signature(Writer.append_metric).parameters)[1:]
    assert parameters == schemas.METRICS.names


def test_append_metric_buffers_the_same_row_as_the_builder(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    row = rows.metrics(run_id="r", key="m", value=1.5, step=3, timestamp=1_700_000_000_000_000)
    store.writer.append_metric(*row)
    store.writer.append("metrics", row)
    assert store.writer._buffers["metrics"] == [row, row]
    store.flush()
    assert store.rows.to_arrow("metrics", [row]).to_pylist()[0]["value"] == 1.5
    store.close()


def test_to_arrow_refuses_a_null_in_a_required_column() -> None:
    with pytest.raises(ValueError, match="'seq'"):
        rows.to_arrow("tags", [rows.tags(run_id="r", key="k", deleted=False, timestamp=1)])


def test_run_columns_are_the_runs_table_but_seq() -> None:
    assert schemas.RUN_COLUMNS == tuple(n for n in schemas.RUNS.names if n != "seq")


def test_now_us_and_the_sequence_clock() -> None:
    before = time.time_ns() // 1000
    assert before <= times.now_us() <= time.time_ns() // 1000
    assert abs(times.now_ms() - before // 1000) <= 1000
    clock = times.SequenceClock()
    stamps = [clock.next() for _ in range(1000)]
    assert stamps == sorted(set(stamps)) and stamps[0] >= before


def test_a_builder_pickles_by_name() -> None:
    assert pickle.loads(pickle.dumps(rows.tags)) is rows.tags


def test_run_info_takes_the_run_columns_in_order() -> None:
    # tracking/reads.py selects the runs view's columns in RunInfo's field order
    from dataclasses import fields

    from lakeml.entities import RunInfo

    assert tuple(f.name for f in fields(RunInfo)) == schemas.RUN_COLUMNS
