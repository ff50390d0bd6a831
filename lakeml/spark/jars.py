"""The Delta Lake connector jars for Spark: which release, where they live, how to fetch them.

pip's pyspark brings Spark but not the Delta connector, which is published to
Maven Central (``io.delta:delta-spark_2.13`` and ``io.delta:delta-storage``).
:func:`fetch` copies them with Maven into a local folder once;
:func:`local_jars` finds them there. When they are absent, the session helper
falls back to Spark's own resolver (``spark.jars.packages``), which downloads
the same coordinates from Maven Central when the session starts.

Delta 4.0.x is built for Spark 4.0.x, so pyspark is pinned to 4.0.x (see
pyproject.toml's ``spark`` extra) and the jars to the same Delta release.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from lakeml.errors import InvalidState

DELTA_VERSION = "4.0.1"
SCALA_VERSION = "2.13"
COORDINATES = (
    f"io.delta:delta-spark_{SCALA_VERSION}:{DELTA_VERSION}",
    f"io.delta:delta-storage:{DELTA_VERSION}",
)


def jar_dir() -> Path:
    """``$LAKEML_SPARK_JARS``, else ``~/.cache/lakeml/jars/delta-<version>``."""
    configured = os.environ.get("LAKEML_SPARK_JARS")
    if configured:
        return Path(configured).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "lakeml" / "jars" / f"delta-{DELTA_VERSION}"


def _jar_name(coordinate: str) -> str:
    _group, artifact, version = coordinate.split(":")
    return f"{artifact}-{version}.jar"


def local_jars() -> list[Path] | None:
    """The connector jars in :func:`jar_dir`, or None when any is missing."""
    folder = jar_dir()
    paths = [folder / _jar_name(c) for c in COORDINATES]
    return paths if all(p.is_file() and p.stat().st_size > 0 for p in paths) else None


def fetch(folder: Path | None = None) -> list[Path]:
    """Copy the connector jars from Maven Central into ``folder`` with ``mvn``; idempotent."""
    folder = folder or jar_dir()
    folder.mkdir(parents=True, exist_ok=True)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InvalidState("fetching the Delta jars needs Maven (`mvn`) on PATH; without it, "
                           "lakeml.spark.session() lets Spark resolve "
                           f"{', '.join(COORDINATES)} itself")
    paths = []
    for coordinate in COORDINATES:
        target = folder / _jar_name(coordinate)
        if not target.is_file():
            done = subprocess.run(
                [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={coordinate}",
                 f"-DoutputDirectory={folder}"],
                capture_output=True, text=True, check=False)
            if done.returncode != 0 or not target.is_file():
                raise InvalidState(f"mvn could not fetch {coordinate}: "
                                   f"{(done.stdout + done.stderr).strip()[-2000:]}")
        paths.append(target)
    return paths

