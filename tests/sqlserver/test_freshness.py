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
