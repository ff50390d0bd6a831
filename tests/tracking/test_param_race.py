"""Params are immutable across processes: racing processes log one key with different
values; exactly one value wins, every reader sees it, every loser hears of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lakeml
from lakeml.errors import InvalidArgument

RACER = r"""
import json, os, random, sys, time
import lakeml
from lakeml.errors import InvalidArgument
store, run_id, go = sys.argv[1], sys.argv[2], sys.argv[5]
worker, keys = int(sys.argv[3]), int(sys.argv[4])
client = lakeml.Client(store)
client.get_run(run_id)                      # warm up before the start line
client.log_param(run_id, f"own{worker}", worker)
while not os.path.exists(go):
    time.sleep(0.001)
order = list(range(keys))
random.Random(worker).shuffle(order)
won, lost, late = [], [], []
for k in order:
    try:  # refused at the call if this process already read the winner ...
        client.log_param(run_id, f"k{k}", f"w{worker}")
    except InvalidArgument as exc:
        assert "immutable" in str(exc), exc
        lost.append(k)
        continue
    try:  # ... else at the flush, if another process committed the key first
        client.flush()
        won.append(k)
    except InvalidArgument as exc:
        assert f"key='k{k}'" in str(exc) and f"'w{worker}' was not stored" in str(exc), exc
        lost.append(k)
        late.append(k)
print(json.dumps({"won": won, "lost": lost, "late": late}))
"""


@pytest.mark.slow
def test_racing_processes_agree_on_one_value_per_param(tmp_path: Path) -> None:
    store, workers, keys = str(tmp_path / "lake"), 4, 12
    client = lakeml.Client(store)
    run_id = client.create_run(client.create_experiment("race")).info.run_id
    client.flush()
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, store, run_id, str(w), str(keys),
                               str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for w in range(workers)]
    time.sleep(3)  # let every racer start up
    go.touch()
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    results = [json.loads(out) for out, _ in outs]

    winners = {}
    for worker, result in enumerate(results):
        assert sorted(result["won"] + result["lost"]) == list(range(keys))
        for k in result["won"]:
            assert k not in winners, f"k{k} won by workers {winners[k]} and {worker}"
            winners[k] = worker
    assert sorted(winners) == list(range(keys))  # every key has exactly one winner
    assert any(r["late"] for r in results), "no race was lost at commit: not a race"

    expected = {f"k{k}": f"w{w}" for k, w in winners.items()}
    expected.update({f"own{w}": str(w) for w in range(workers)})
    fresh = lakeml.Client(store)
    assert fresh.get_run(run_id).data.params == expected
    rows = fresh.sql("SELECT key, value FROM lake_params WHERE run_id = ? ORDER BY key",
                     [run_id]).fetchall()
    assert rows == sorted(expected.items())  # one row per key: the losers' never landed
    assert dict(fresh.sql("SELECT key, value FROM params WHERE run_id = ?",
                          [run_id]).fetchall()) == expected


def test_a_loser_learns_the_winner_and_may_log_it(tmp_path: Path) -> None:
    """One process, two stores' worth of writers: the second client's writer is another
    process's as far as the table is concerned."""
    from lakeml.store import Store

    store_uri = str(tmp_path / "lake")
    client = lakeml.Client(store_uri)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    client.flush()
    other = Store(store_uri, flush_interval=60).open()  # "the other process"
    other.writer.append("params", (run_id, "lr", "0.1", time.time_ns() // 1000))
    other.flush()
    client.log_param(run_id, "lr", 0.2)  # accepted: this process has not seen 0.1
    with pytest.raises(InvalidArgument, match="already holds '0.1'"):
        client.flush()
    client.log_param(run_id, "lr", 0.1)  # the cache was dropped: the winner is accepted
    with pytest.raises(InvalidArgument, match="immutable"):
        client.log_param(run_id, "lr", 0.2)  # and the loser's value is now refused at once
    client.flush()
    assert client.get_run(run_id).data.params == {"lr": "0.1"}
    other.close()
    assert os.path.isdir(store_uri)


def test_end_run_tells_the_loser_and_still_ends_the_run(store_uri: str) -> None:
    from lakeml.store import Store

    run = lakeml.start_run()
    run_id = run.info.run_id
    lakeml.flush()
    other = Store(store_uri, flush_interval=60).open()
    other.writer.append("params", (run_id, "lr", "0.1", time.time_ns() // 1000))
    other.flush()
    lakeml.log_param("lr", 0.2)
    lakeml.log_metric("loss", 1.0)
    with pytest.raises(InvalidArgument, match="'0.2' was not stored"):
        lakeml.end_run()
    got = lakeml.Client(store_uri).get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params == {"lr": "0.1"} and got.data.metrics == {"loss": 1.0}
    other.close()
