"""A kept answer is reused until a table it read gets a new commit."""

from __future__ import annotations

import lakeml
from lakeml.ui.cache import cached


def test_an_answer_is_kept_until_its_tables_change(tmp_path):
    client = lakeml.Client(str(tmp_path / "lake"))
    exp = client.create_experiment("e")
    run = client.create_run(exp).info.run_id
    client.flush()
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert cached(client, "k", ("params",), compute) == 1
    assert cached(client, "k", ("params",), compute) == 1  # kept
    client.set_tag(run, "t", "v")
    client.flush()
    assert cached(client, "k", ("params",), compute) == 1  # another table changed
    client.log_param(run, "p", "1")
    client.flush()
    assert cached(client, "k", ("params",), compute) == 2  # its table changed
    assert cached(client, "other", ("params",), compute) == 3  # another key
