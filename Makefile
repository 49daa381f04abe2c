# Developer entry points. `make demo` and `make test` are the two commands of the README.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER ?= $(CURDIR)/plugins
export AIRFLOW__API__HOST ?= 127.0.0.1

.PHONY: help venv demo ui test lint typecheck unit operator-test bench clean

help:
	@echo "make demo           offline demo: local PostgreSQL, demo site, one Airflow run, summary"
	@echo "make ui             the Airflow UI on the demo (runs the demo day); Ctrl-C stops all"
	@echo "make test           lint, type checks and the whole test suite"
	@echo "make operator-test  the Airflow operator tests (standalone, Celery workers) on their own"
	@echo "make bench          benchmarks in bench/ (reads ../shared/datasets when present)"

$(BIN)/newsingest: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "newsingest needs Python 3.11+ ($(PYTHON) is older); set PYTHON=python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(BIN)/newsingest

venv: $(BIN)/newsingest

demo: venv
	$(BIN)/newsingest demo

ui: venv
	$(BIN)/newsingest ui

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/python -m pytest tests/unit -q

test: lint typecheck
	$(BIN)/python -m pytest -q

operator-test: venv
	$(BIN)/python -m pytest -q -m operator

bench: venv
	$(BIN)/python bench/fetch.py
	$(BIN)/python bench/feeds.py
	$(BIN)/python bench/extraction.py
	$(BIN)/python bench/dedup.py

clean:
	rm -rf $(VENV) .airflow .newsingest .pytest_cache .mypy_cache .ruff_cache
