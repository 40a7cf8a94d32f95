# The two commands the README promises, and the few others the docs mention.
#   make demo   set up .venv and run the headless end-to-end demo on the embedded sample data
#   make test   set up .venv (+ system test tools) and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast lint system-deps bench clean-lake

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(BIN)/pip install --quiet uv==0.13.9

$(STAMP): pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -e '.[all,dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/workbench demo

# System tools some tests drive for real (prometheus' promtool, chromium, shellcheck, node for the hub proxy).
system-deps:
	@./.ci/system-deps

test: setup system-deps
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check workbench tests benchmarks
	$(BIN)/ruff format --check workbench tests benchmarks

bench: setup
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/sweep.py

clean-lake:
	rm -rf data/lake
