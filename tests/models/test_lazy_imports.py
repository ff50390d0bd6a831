"""Flavors load on demand: ``import lakeml`` and ``lakeml.pyfunc`` import no ML library."""

from __future__ import annotations

import json

from tests.conftest import run_python


def test_import_lakeml_loads_no_heavy_library() -> None:
    heavy = ["pandas", "numpy", "pyarrow", "duckdb", "deltalake", "pyspark", "sklearn"]
    proc = run_python(
        "import sys, json, lakeml\n"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))")
    assert json.loads(proc.stdout) == []


def test_flavor_modules_load_on_first_attribute_access() -> None:
    proc = run_python(
        "import sys, json, lakeml\n"
        "before = 'sklearn' in sys.modules or 'lakeml.sklearn' in sys.modules\n"
        "f = lakeml.sklearn.save_model\n"
        "print(json.dumps([before, 'lakeml.sklearn' in sys.modules,"
        " 'pyfunc' in dir(lakeml)]))")
    assert json.loads(proc.stdout) == [False, True, True]


def test_pyfunc_imports_no_flavor_library() -> None:
    proc = run_python(
        "import sys, json, lakeml.pyfunc, lakeml.xgboost, lakeml.lightgbm, lakeml.pytorch,"
        " lakeml.spark_ml\n"
        "libs = ['sklearn', 'xgboost', 'lightgbm', 'torch', 'cloudpickle', 'deltalake',"
        " 'pyspark', 'py4j']\n"
        "print(json.dumps([m for m in libs if m in sys.modules]))")
    assert json.loads(proc.stdout) == []
