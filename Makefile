# The two commands a newcomer runs: `make demo` and `make test`.
# Each creates .venv (Python 3.10+) and installs lakeml with its test extras.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/lakeml spark-jars
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/lakeml demo

test: setup
	$(BIN)/python -m pytest

# ruff, then the layers contract in .importlinter (an import that goes up fails)
lint: setup
	$(BIN)/ruff check lakeml tests benchmarks
	$(BIN)/lint-imports --no-cache --no-logo

bench: setup
	bash benchmarks/setup_mlflow.sh
	$(BIN)/python benchmarks/bench_tracking.py

clean:
	rm -rf $(VENV) lakeml-store .pytest_cache
