"""Running scripts with the real MLflow, in its side virtualenv (benchmarks/.venv-mlflow,
made by benchmarks/setup_mlflow.sh, or the interpreter LAKEML_MLFLOW_PYTHON names).

Without it a test skips, except in CI (``CI=true``), where a missing MLflow fails: a
comparison with MLflow must never pass by not running.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def mlflow_python() -> Path:
    """The side venv's python, or skip (fail under CI) when there is none."""
    named = os.environ.get("LAKEML_MLFLOW_PYTHON")
    python = Path(named) if named else ROOT / "benchmarks" / ".venv-mlflow" / "bin" / "python"
    if not python.is_file():
        message = ("no MLflow virtualenv: run `bash benchmarks/setup_mlflow.sh` (make test "
                   "does) or set LAKEML_MLFLOW_PYTHON")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return python


def run_mlflow(script: str, *args: str, cwd: Path, env: dict[str, str] | None = None,
               timeout: int = 600) -> Any:
    """Run ``script`` with MLflow's python in ``cwd``; returns the JSON its last stdout line
    holds."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("MLFLOW_", "LAKEML_", "PYTHONPATH"))}
    clean.update(env or {})
    proc = subprocess.run([str(mlflow_python()), "-c", script, *args], capture_output=True,
                          text=True, env=clean, timeout=timeout, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
