"""The server keeps the folded views a query names as tables while the store does not
change; a new commit drops them, so every query still sees the latest state."""

from __future__ import annotations

from pathlib import Path

import psycopg

import lakeml
from lakeml.sqlserver import SqlServer


def test_queries_see_new_commits_through_the_kept_tables(tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    client = lakeml.Client(store)
    exp = client.create_experiment("fresh")
    first = client.create_run(exp, run_name="first").info.run_id
    client.log_metric(first, "loss", 0.5)
    client.flush()
    server = SqlServer(store, port=0)
    host, port = server.start()
    query = ("SELECT r.run_name, m.value, w.experiment_name FROM runs r JOIN latest_metrics m "
             "USING (run_id) JOIN runs_wide w USING (run_id) ORDER BY 1")
    try:
        with psycopg.connect(host=host, port=port, user="me", dbname="x",
                             autocommit=True) as conn:
            assert conn.execute(query).fetchall() == [("first", 0.5, "fresh")]
            assert conn.execute(query).fetchall() == [("first", 0.5, "fresh")]  # kept
            kept = {r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'lakeml_cache'").fetchall()}
            assert kept == {"runs", "latest_metrics", "runs_wide"}
            second = client.create_run(exp, run_name="second").info.run_id
            client.log_metric(second, "loss", 0.25)
            client.log_metric(first, "loss", 0.125, step=1)
            client.flush()
            assert conn.execute(query).fetchall() == [("first", 0.125, "fresh"),
                                                      ("second", 0.25, "fresh")]
            names = {r[0] for r in conn.execute("SELECT relname FROM pg_class").fetchall()}
            assert "runs" in names and not any(n.startswith("empty_") for n in names)
            assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE "
                                "'lakeml_%'").fetchone() == (0,)
    finally:
        server.close()


def test_kept_tables_are_reordered_once_a_store_version_is_asked_often(tmp_path: Path) -> None:
    """After ORDER_AFTER queries on one store version the kept tables are re-written in
    key and run-id order (the leaderboard's scans and join get cheaper) and swapped in;
    answers stay the same, and a new commit starts over from unordered tables."""
    import time

    from lakeml.sqlserver import server as server_module

    store = str(tmp_path / "lake")
    client = lakeml.Client(store)
    exp = client.create_experiment("order")
    for i in range(30):  # run ids ascend with time; metric keys in reverse order
        rid = client.create_run(exp, run_name=f"r{i:02d}").info.run_id
        client.log_batch(rid, metrics={f"k{j}": float(i + j) for j in range(3, 0, -1)})
    client.flush()
    server = SqlServer(store, port=0)
    host, port = server.start()
    query = ("SELECT r.run_name, m.key, m.value FROM runs r JOIN latest_metrics m "
             "USING (run_id) WHERE m.key = %s ORDER BY m.value DESC LIMIT 3")
    want = [("r29", "k3", 32.0), ("r28", "k3", 31.0), ("r27", "k3", 30.0)]
    stored = "SELECT key, run_id FROM lakeml_cache.latest_metrics"  # in storage order
    kept = ("SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'lakeml_cache'")
    try:
        with psycopg.connect(host=host, port=port, user="me", dbname="x",
                             autocommit=True) as conn:
            for _ in range(server_module.ORDER_AFTER):
                assert conn.execute(query, ["k3"]).fetchall() == want
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                rows = conn.execute(stored).fetchall()
                if rows == sorted(rows) and {r[0] for r in conn.execute(kept)} == {
                        "runs", "latest_metrics"}:
                    break
                time.sleep(0.2)
            assert rows == sorted(rows), "latest_metrics was not re-written in order"
            assert {r[0] for r in conn.execute(kept)} == {"runs", "latest_metrics"}
            assert conn.execute(query, ["k3"]).fetchall() == want
            late = client.create_run(exp, run_name="late").info.run_id
            client.log_metric(late, "k3", 99.0)
            client.flush()
            assert conn.execute(query, ["k3"]).fetchall()[0] == ("late", "k3", 99.0)
    finally:
        server.close()


def test_closing_the_database_stops_and_joins_its_ordering_threads(tmp_path: Path) -> None:
    """No thread may be left inside DuckDB at exit (a daemon killed there aborts the
    process): close() interrupts the ordering threads, waits for them, and no
    half-written ordered table is left behind."""
    import threading

    from lakeml.sqlserver import server as server_module

    store = str(tmp_path / "lake")
    client = lakeml.Client(store)
    exp = client.create_experiment("order")
    for i in range(200):
        rid = client.create_run(exp, run_name=f"r{i:03d}").info.run_id
        client.log_batch(rid, metrics={f"k{j}": float(i + j) for j in range(20)})
    client.flush()
    database = server_module.Database(store)
    sql = "SELECT count(*) FROM latest_metrics JOIN runs USING (run_id)"
    for _ in range(server_module.ORDER_AFTER):
        cur = database.cursor(sql)
        cur.execute(sql)
        assert cur.fetchall() == [(4000,)]
        cur.close()
    ordering = [t for t in threading.enumerate() if t.name == "lakeml-sql-order"]
    assert all(not t.daemon for t in ordering)
    database.close()
    assert not any(t.is_alive() for t in ordering)
    assert not [t for t in threading.enumerate() if t.name == "lakeml-sql-order"]
    left = database._con.execute("SELECT table_name FROM information_schema.tables "
                                 "WHERE table_schema = 'lakeml_cache'").fetchall()
    assert not [name for (name,) in left if "__ordered" in name]
    assert {name for (name,) in left} <= {"runs", "latest_metrics"}
