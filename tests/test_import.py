"""``import lakeml`` stays light: no DuckDB, deltalake, pyarrow, pandas, Spark or the
server's web stack."""

from __future__ import annotations

import json

from tests.conftest import run_python


def test_import_loads_no_heavy_module() -> None:
    proc = run_python(
        "import sys, json, lakeml\n"
        "heavy = ['duckdb', 'deltalake', 'pyarrow', 'pandas', 'pyspark', 'sklearn', 'numpy',\n"
        "         'fastapi', 'starlette', 'uvicorn']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))")
    assert json.loads(proc.stdout) == []


def test_public_api_is_importable_by_name() -> None:
    proc = run_python("import lakeml; print(len(lakeml.__all__)); "
                      "[getattr(lakeml, n) for n in lakeml.__all__]")
    assert int(proc.stdout) > 20
