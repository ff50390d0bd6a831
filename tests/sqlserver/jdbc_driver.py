"""The PostgreSQL JDBC driver the tests connect with, as BI tools do: its Maven
coordinate, where the set-up puts it, and the fetch (`make jdbc-driver`, part of
`make test`; never at test time).

Run as a script, it copies the jar from Maven Central with ``mvn dependency:copy``
into ``$LAKEML_PG_JDBC_DIR`` (default ``~/.cache/lakeml/jars/``), once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

COORDINATE = "org.postgresql:postgresql:42.7.8"


def jar_path() -> Path:
    """Where the driver's jar lives once fetched."""
    folder = os.environ.get("LAKEML_PG_JDBC_DIR")
    base = Path(folder).expanduser() if folder else \
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lakeml" / "jars"
    _group, artifact, version = COORDINATE.split(":")
    return base / f"{artifact}-{version}.jar"


def fetch() -> Path:
    """Copy the jar from Maven Central with mvn unless it is there already."""
    target = jar_path()
    if target.is_file() and target.stat().st_size > 0:
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SystemExit(f"fetching {COORDINATE} needs Maven (mvn) on PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([mvn, "-q", "-B", "dependency:copy", f"-Dartifact={COORDINATE}",
                           f"-DoutputDirectory={target.parent}"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not target.is_file():
        raise SystemExit(f"mvn could not fetch {COORDINATE}: "
                         f"{(done.stdout + done.stderr).strip()[-2000:]}")
    return target


if __name__ == "__main__":
    print(fetch())
    sys.exit(0)
