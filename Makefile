# The two commands the README promises, and the few others the docs mention.
#   make demo   set up .venv and run the headless end-to-end demo on the sample data in data/ (Python 3.11
#               and make only; it reads and writes nothing outside this folder once installed)
#   make test   set up .venv, the system test tools (.ci/system-deps: Debian packages) and npm's
#               configurable-http-proxy, then run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
PYTEST_ARGS ?=
# The Chroma server line the cluster runs (infra/helm/chromadb/values.yaml image tag; token auth needs the Python
# server, < 1.0). Installed into its own venv so the client/server test also runs against what is deployed.
CHROMA_SERVER_VERSION := 0.6.3
CHROMA_SERVER_VENV := .chroma-server-$(CHROMA_SERVER_VERSION)

.PHONY: setup demo test test-fast lint system-deps bench clean-lake hub chroma-server chp

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(BIN)/pip install --quiet uv==0.13.9

# torch first, with pip: the CPU wheel on local disk (/opt/wheels via pip.conf); uv or an unpinned torch would
# pull the multi-GB CUDA build. uv then sees torch==2.13.0 satisfied. --compile-bytecode: uv writes no .pyc
# otherwise, and under PYTHONDONTWRITEBYTECODE=1 every Ray process would compile Ray again at each start.
$(STAMP): pyproject.toml | $(UV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[all,dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

# npm's configurable-http-proxy, for the local JupyterHub (make hub, tests/infra/test_local_hub.py); into .venv/chp.
CHP := $(VENV)/chp/node_modules/.bin/configurable-http-proxy
chp: | $(BIN)/python
	@test -x $(CHP) || { command -v npm >/dev/null && npm install --silent --no-audit --no-fund --prefix $(VENV)/chp configurable-http-proxy@5.3.0; } \
	  || echo "warning: configurable-http-proxy not installed (needs node and npm: apt-get install nodejs npm); the local JupyterHub (make hub, its test) needs it"

$(CHROMA_SERVER_VENV)/bin/chroma: | $(UV)
	$(UV) venv --quiet --python $(BIN)/python $(CHROMA_SERVER_VENV)
	$(UV) pip install --quiet --python $(CHROMA_SERVER_VENV)/bin/python chromadb==$(CHROMA_SERVER_VERSION)

chroma-server: $(CHROMA_SERVER_VENV)/bin/chroma

demo: setup
	$(BIN)/workbench demo

# System tools some tests drive for real (prometheus' promtool, chromium, shellcheck, node for the hub proxy).
system-deps:
	@./.ci/system-deps

test: setup system-deps chp chroma-server
	HF_HUB_OFFLINE=1 $(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test-fast: setup chroma-server
	HF_HUB_OFFLINE=1 $(BIN)/pytest -n 2 --dist loadgroup -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check workbench tests benchmarks
	$(BIN)/ruff format --check workbench tests benchmarks

bench: setup
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/sweep.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/rag.py

# A real JupyterHub on 127.0.0.1:8000 with the Trading Workbench kernel (see docs/deploy.md).
hub: setup chp
	$(BIN)/workbench kernel install --sys-prefix
	$(BIN)/python infra/local-hub/run_hub.py

clean-lake:
	rm -rf data/lake
