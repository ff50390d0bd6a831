#!/usr/bin/env bash
# Create benchmarks/.venv-mlflow with MLflow installed, for bench_tracking.py
# (and xgboost-cpu, for bench_autolog.py; lightgbm and skops, for the MLflow model folders
# that tests/migrate and tests/models load; flask-wtf, for MLflow's auth client in the tests;
# psycopg2-binary and pymysql, for MLflow's PostgreSQL and MariaDB stores in tests/migrate;
# torch, for the MLflow PyTorch models tests/models loads).
# MLflow gets its own venv so its dependencies never touch lakeml's .venv.
# Idempotent and quiet: a venv that already has mlflow is left as it is.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
VENV=.venv-mlflow

has_mlflow() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c \
        "import importlib.util, sys; sys.exit(importlib.util.find_spec('mlflow') is None)" &&
    "$VENV/bin/python" -c \
        "import importlib.util, sys; sys.exit(importlib.util.find_spec('xgboost') is None)" &&
    "$VENV/bin/python" -c "import importlib.util, sys; sys.exit(any(
        importlib.util.find_spec(m) is None
        for m in ('lightgbm', 'skops', 'flask_wtf', 'psycopg2', 'pymysql', 'torch')))"
}

if has_mlflow; then
    exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
# flask-wtf: MLflow's auth client (mlflow.server.get_app_client) imports it; tests/server/test_auth.py
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check mlflow xgboost-cpu \
    lightgbm skops flask-wtf psycopg2-binary pymysql torch
version="$("$VENV/bin/python" -c 'import mlflow; print(mlflow.__version__)')"
echo "mlflow $version installed in benchmarks/$VENV"
