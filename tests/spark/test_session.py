"""A lakeml Spark session starts quietly: errors only, unless asked for more."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = """
import lakeml.spark
spark = lakeml.spark.session("quiet")
assert spark.range(3).count() == 3
spark.stop()
print("done")
"""


@pytest.mark.slow
def test_a_new_session_prints_nothing_at_the_default_level(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LAKEML_SPARK_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    for noise in ("NativeCodeLoader", "log4j", "Setting default log level",
                  "incubator modules", "WARN"):
        assert noise not in proc.stderr, proc.stderr
