# The two commands a newcomer runs: `make demo` and `make test`.
# Each creates .venv (Python 3.10+) and installs lakeml with its test extras.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup torch mlflow-venv system-packages jdbc-driver spark-jars demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/lakeml spark-jars
	touch $(STAMP)

setup: $(STAMP)

# The pytorch and lightning extras (torch's Linux wheel brings ~4 GB of CUDA libraries, so
# only `make test` installs them, not `make demo`): tests/models and tests/autolog use them
$(VENV)/.torch-stamp: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[pytorch,lightning]'
	touch $@

torch: $(VENV)/.torch-stamp

# MLflow in a side virtualenv (never in .venv): the benchmarks compare with it and
# tests/server runs MLflow's own client against `lakeml server` with it.
mlflow-venv:
	bash benchmarks/setup_mlflow.sh

# Debian packages the tests use (Chromium for the UI tests, psql, the PostgreSQL and
# MariaDB servers of tests/migrate): .ci/system-packages.txt
system-packages:
	bash .ci/install-system-packages.sh

# The PostgreSQL JDBC driver (Maven Central) for tests/sqlserver, fetched once with mvn
jdbc-driver: setup
	$(BIN)/python tests/sqlserver/jdbc_driver.py

# The Spark jars (Delta, and hadoop-aws with its AWS SDK modules for s3a://) from Maven
# Central; fetches only the missing ones, so a set-up made before a jar was added gets it
spark-jars: setup
	$(BIN)/lakeml spark-jars > /dev/null

demo: setup
	$(BIN)/lakeml demo

test: setup torch system-packages mlflow-venv jdbc-driver spark-jars
	$(BIN)/python -m pytest

# ruff, then the layers contract in .importlinter (an import that goes up fails)
lint: setup
	$(BIN)/ruff check lakeml tests benchmarks
	$(BIN)/lint-imports --no-cache --no-logo

bench: setup mlflow-venv
	$(BIN)/python benchmarks/bench_tracking.py

clean:
	rm -rf $(VENV) lakeml-store .pytest_cache
