# SQID pipeline: every target builds what it needs from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch comes from the channel that fits the hardware: the CPU wheel by default,
# e.g. `make venv TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cu128"` for CUDA.
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
UV_VERSION ?= 0.13.9
# Project-local state (DuckDB file, Airflow metadata, releases); git-ignored.
SQID_HOME ?= $(CURDIR)/.sqid
export SQID_HOME

.PHONY: help venv demo test test-fast test-distributed cluster-deps browser-deps lint format settings-tables rehearsal airflow airflow-cli demo-site bench clean lock

help:
	@echo "make demo      run the whole pipeline end to end on generated sample data"
	@echo "make test      run every test (installs everything first)"
	@echo "make test-fast run the tests not marked slow"
	@echo "make test-distributed  the production stack on loopback (needs make cluster-deps)"
	@echo "make cluster-deps      install Debian's postgresql and redis-server for it"
	@echo "make browser-deps      install Debian's chromium for the browser tests"
	@echo "make airflow   start 'airflow standalone' with the project's DAGs"
	@echo "make airflow-cli ARGS=\"...\"  Airflow's CLI on the project's home (e.g. backfill create)"
	@echo "make demo-site serve the demo's product site and image CDN for make airflow"
	@echo "make bench     run the benchmarks under bench/"
	@echo "make rehearsal SCALE=0.01  all four DAGs through a real scheduler at a share of SQID's size"
	@echo "make lint      ruff check + format check"
	@echo "make lock      re-resolve requirements/lock.txt after editing pyproject.toml"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/lock.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python --require-hashes -r requirements/lock.txt
	$(BIN)/python -m pip install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra production --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements/lock.txt

demo: venv
	$(BIN)/python -m sqid.demo

# Installs the servers when it can without asking (root or password-less sudo); else
# the distributed test skips and says why.
test: venv
	@$(MAKE) --no-print-directory cluster-deps || \
	  echo "note: no PostgreSQL/Redis servers; run 'make cluster-deps' for the distributed test"
	@$(MAKE) --no-print-directory browser-deps || \
	  echo "note: no Chromium; run 'make browser-deps' for the browser tests"
	$(BIN)/python -m pytest -q --durations=10

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow"

# The production stack's test runs Debian's PostgreSQL and Redis servers on loopback.
CLUSTER_PACKAGES := postgresql redis-server
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)

cluster-deps:
	@if command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "PostgreSQL and Redis servers are installed"; \
	else \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(CLUSTER_PACKAGES); \
	fi

# The browser tests drive Debian's chromium with Playwright (its own download is not used).
browser-deps:
	@if command -v chromium >/dev/null; then \
	  echo "Chromium is installed"; \
	else \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi

test-distributed: venv
	$(BIN)/python -m pytest -q -m distributed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The README's tables of Params, connection extras and flags, from include/sqid/settings.py.
settings-tables: venv
	$(BIN)/python -m sqid.settings README.md

airflow: venv
	$(BIN)/python -m sqid.airflow_local standalone

# Airflow's own CLI on the project's AIRFLOW_HOME, DAGs and connections, e.g.
#   make airflow-cli ARGS="backfill create --dag-id sqid_scrape --from-date 2026-11-01 --to-date 2026-11-03 --max-active-runs 1"
airflow-cli: venv
	$(BIN)/python -m sqid.airflow_local cli $(ARGS)

# In a second terminal, before make airflow: its DAGs then use the demo's local servers.
demo-site: venv
	$(BIN)/python -m sqid.demo serve

# All four DAGs through a real scheduler at a share of SQID's size, three days, measured:
#   make rehearsal SCALE=0.01   (minutes)   make rehearsal SCALE="0.01 0.1 1.0"   (the cost curve)
SCALE ?= 0.01
rehearsal: venv
	$(BIN)/python bench/rehearsal.py --scale $(SCALE)

bench: venv
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_scrape.py
	$(BIN)/python bench/bench_embed.py
	$(BIN)/python bench/bench_download.py
	$(BIN)/python bench/bench_release.py
	$(BIN)/python bench/bench_search.py

clean:
	rm -rf $(SQID_HOME)
