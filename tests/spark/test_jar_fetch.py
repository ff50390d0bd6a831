"""lakeml.spark.jars.fetch: the Delta jars and the s3a jars come in separate Maven runs.

Maven Central cannot be made to refuse on demand, so the ``mvn`` here is a small script
on PATH that plays a mirror holding the Delta jars but not the AWS SDK: it writes the
jars its throw-away pom names, and fails when the pom names hadoop-aws. What is tested
is lakeml's side: which runs it makes and what it keeps when one fails.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lakeml.errors import InvalidState
from lakeml.spark import jars

MVN = """#!/bin/sh
# args: -q -B -f POM dependency:copy-dependencies -DexcludeTransitive=true -DoutputDirectory=DIR
pom="$4"; out="${7#-DoutputDirectory=}"
echo run >> "$MVN_LOG"
if grep -q hadoop-aws "$pom"; then echo "Could not resolve software.amazon.awssdk" >&2; exit 1; fi
for a in $(grep -o '<artifactId>[^<*]*</artifactId><version>[^<]*' "$pom" \\
           | sed 's#<artifactId>\\(.*\\)</artifactId><version>\\(.*\\)#\\1-\\2#'); do
  echo jar > "$out/$a.jar"
done
"""


def _jar(coordinate: str) -> str:
    _group, artifact, version = coordinate.split(":")
    return f"{artifact}-{version}.jar"


@pytest.fixture
def mirror_without_sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text(MVN)
    mvn.chmod(mvn.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MVN_LOG", str(tmp_path / "mvn.log"))
    return tmp_path / "mvn.log"


def test_a_mirror_without_the_aws_sdk_still_leaves_the_delta_jars(
        tmp_path: Path, mirror_without_sdk: Path) -> None:
    folder = tmp_path / "jars"
    with pytest.raises(InvalidState, match="hadoop-aws") as failed:
        jars.fetch(folder)
    assert "delta-spark" not in str(failed.value)  # the error names the s3a jars only
    for coordinate in jars.COORDINATES:
        assert (folder / _jar(coordinate)).is_file(), coordinate
    assert not (folder / _jar(jars.S3A_COORDINATES[0])).exists()
    assert mirror_without_sdk.read_text().count("run") == 2

    # a second fetch asks only for what is still missing: one run, the s3a group
    mirror_without_sdk.unlink()
    with pytest.raises(InvalidState, match="hadoop-aws"):
        jars.fetch(folder)
    assert mirror_without_sdk.read_text().count("run") == 1
