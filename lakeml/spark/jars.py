"""The jars Spark needs beyond pip's pyspark: which releases, where they live, how to fetch them.

pip's pyspark brings Spark but not the Delta connector, which is published to
Maven Central (``io.delta:delta-spark_2.13`` and ``io.delta:delta-storage``), nor
Hadoop's S3 file system (``s3a://``: ``org.apache.hadoop:hadoop-aws`` and the AWS SDK
v2 modules it calls). :func:`fetch` copies them with Maven into a local folder once;
:func:`local_jars` finds them there. When the Delta jars are absent, the session
helper falls back to Spark's own resolver (``spark.jars.packages``), which downloads
the Delta coordinates from Maven Central when the session starts; S3 then needs
:func:`fetch` (see below).

Delta 4.0.x is built for Spark 4.0.x, so pyspark is pinned to 4.0.x (see
pyproject.toml's ``spark`` extra) and the jars to the same Delta release.

hadoop-aws must be the release of the Hadoop client pyspark ships (3.4.1 in pyspark
4.0.1: ``pyspark/jars/hadoop-client-api-3.4.1.jar``). Its pom names the AWS SDK as
``software.amazon.awssdk:bundle``, one shaded jar of every AWS service: 558 MB. lakeml
takes instead the SDK modules S3 needs (the S3 client, its transfer manager, and
their core; 8 MB in all), leaving out what Spark's own jars already hold (netty,
Apache httpclient and httpcore, commons-codec, slf4j). The SDK is 2.24.12, the
last patch of the 2.24 line hadoop-aws 3.4.1 was built with (2.24.6; its transfer
manager was never published), and older than 2.30, whose default checksums some
S3-compatible stores refuse.
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
HADOOP_VERSION = "3.4.1"
AWS_SDK_VERSION = "2.24.12"
_SDK_MODULES = (
    "annotations", "apache-client", "arns", "auth", "aws-core", "aws-query-protocol",
    "aws-xml-protocol", "checksums", "checksums-spi", "crt-core", "endpoints-spi", "http-auth",
    "http-auth-aws", "http-auth-spi", "http-client-spi", "identity-spi", "json-utils",
    "metrics-spi", "netty-nio-client", "profiles", "protocol-core", "regions", "s3",
    "s3-transfer-manager", "sdk-core", "third-party-jackson-core", "utils",
)
# s3a:// for Spark: hadoop-aws and the AWS SDK modules it uses (see the module's docstring)
S3A_COORDINATES = (
    f"org.apache.hadoop:hadoop-aws:{HADOOP_VERSION}",
    *(f"software.amazon.awssdk:{m}:{AWS_SDK_VERSION}" for m in _SDK_MODULES),
    "software.amazon.eventstream:eventstream:1.0.1",
    "org.reactivestreams:reactive-streams:1.0.4",
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


def _present(coordinates: tuple[str, ...]) -> list[Path] | None:
    folder = jar_dir()
    paths = [folder / _jar_name(c) for c in coordinates]
    return paths if all(p.is_file() and p.stat().st_size > 0 for p in paths) else None


def local_jars() -> list[Path] | None:
    """The Delta jars in :func:`jar_dir` and, when all of them are there too, the s3a
    jars; None when a Delta jar is missing."""
    delta = _present(COORDINATES)
    if delta is None:
        return None
    return delta + (_present(S3A_COORDINATES) or [])


def has_s3a() -> bool:
    """Whether the s3a jars are fetched (a session started now can read ``s3a://``)."""
    return _present(S3A_COORDINATES) is not None


def fetch(folder: Path | None = None) -> list[Path]:
    """Copy the Delta and s3a jars from Maven Central into ``folder`` with ``mvn``;
    idempotent (what is there is not fetched again).

    The Delta jars come in one Maven run and the s3a jars in a second: a mirror that
    lacks the AWS SDK still leaves a working Delta set-up, and the error then names the
    s3a jars only."""
    folder = folder or jar_dir()
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for group in (COORDINATES, S3A_COORDINATES):
        missing = [c for c in group if not (folder / _jar_name(c)).is_file()]
        if not missing:
            continue
        mvn = shutil.which("mvn")
        if mvn is None:
            raise InvalidState("fetching the Spark jars needs Maven (`mvn`) on PATH; without "
                               "it, lakeml.spark.session() lets Spark resolve "
                               f"{', '.join(COORDINATES)} itself (no s3a:// then)")
        try:
            _copy_with_maven(mvn, missing, folder)
        except InvalidState as exc:
            failures.append(str(exc))
    wanted = COORDINATES + S3A_COORDINATES
    paths = [folder / _jar_name(c) for c in wanted]
    absent = [str(p) for p in paths if not p.is_file()]
    if failures or absent:
        raise InvalidState("; ".join(failures) or f"mvn did not fetch {', '.join(absent)}")
    return paths


def _copy_with_maven(mvn: str, coordinates: list[str], folder: Path) -> None:
    """Copy exactly ``coordinates`` (none of their dependencies) into ``folder``: Maven's
    copy-dependencies over a throw-away pom that lists them, each with every dependency
    excluded (else Maven would download hadoop-aws's 558 MB SDK bundle to resolve it)."""
    import tempfile
    from xml.sax.saxutils import escape

    entries = "".join(
        f"<dependency><groupId>{escape(g)}</groupId><artifactId>{escape(a)}</artifactId>"
        f"<version>{escape(v)}</version><exclusions><exclusion><groupId>*</groupId>"
        f"<artifactId>*</artifactId></exclusion></exclusions></dependency>"
        for g, a, v in (c.split(":") for c in coordinates))
    pom = ('<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0'
           '</modelVersion><groupId>lakeml</groupId><artifactId>spark-jars</artifactId>'
           f'<version>1</version><dependencies>{entries}</dependencies></project>')
    with tempfile.TemporaryDirectory(prefix="lakeml-jars-") as tmp:
        Path(tmp, "pom.xml").write_text(pom)
        done = subprocess.run(
            [mvn, "-q", "-B", "-f", str(Path(tmp, "pom.xml")), "dependency:copy-dependencies",
             "-DexcludeTransitive=true", f"-DoutputDirectory={folder}"],
            capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InvalidState(f"mvn could not fetch {', '.join(coordinates)}: "
                           f"{(done.stdout + done.stderr).strip()[-2000:]}")

