# Loyalty & sales analytics pipeline. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATE   ?= 2026-11-30
PYTEST_ARGS ?=
SOURCE ?= demo
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run history test lint lab strip bench clean-exports reset-db stop-db db-url

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name etl-helpers --display-name "Python (etl-helpers)" >/dev/null
	-git config filter.strip-notebooks.clean "$(BIN)/python -m etl_helpers.notebook_hygiene --strip-stdin" 2>/dev/null
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned dependencies and the package

run: $(STAMP) ## Run the whole pipeline for DATE (default 2026-11-30) on SOURCE (default demo)
	$(BIN)/python run_pipeline.py --date $(DATE) --source $(SOURCE)

history: $(STAMP) ## List past runs: date, status, duration, rows loaded/rejected, report folder
	$(BIN)/python run_pipeline.py --history

test: $(STAMP) ## Run the whole test suite (embedded PostgreSQL, plus TEST_DATABASE_URL if set)
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP) ## Lint and type-check the package: ruff (rules and format) and mypy over src/
	$(BIN)/ruff check src
	$(BIN)/ruff format --check src
	$(BIN)/mypy

strip: $(STAMP) ## Strip outputs from the committed notebooks
	$(BIN)/python -m etl_helpers.notebook_hygiene --strip notebooks/*.ipynb

LAB_ARGS ?= --no-browser --ip 127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP) ## JupyterLab on notebooks/ with the project kernel, headless (open the URL it prints)
	$(BIN)/jupyter lab notebooks/ $(LAB_ARGS)

PROFILE ?= retail
SCALE   ?= medium large
bench: $(STAMP) ## Benchmark at SCALE (medium large) on the demo's PROFILE (retail | wholesale) (long; results in bench/results/)
	$(BIN)/python -m bench.run $(foreach scale,$(SCALE),--scale $(scale)) --profile $(PROFILE) --runs 3

clean-exports: ## Delete generated exports and processed data (raw data and the database stay)
	rm -rf exports/*/ data/processed/*/

reset-db: $(STAMP) ## Drop the pipeline's schemas in the configured database
	$(BIN)/python run_pipeline.py --reset-database

stop-db: $(STAMP) ## Stop the embedded PostgreSQL now (it also stops when its last user exits)
	$(BIN)/python -m etl_helpers.db stop

db-url: $(STAMP) ## Print a URL to the pipeline's database for psql or a notebook (never a password)
	@$(BIN)/python -m etl_helpers.db url

# --- Dashboard: the published exports in a browser (dashboard/) ---
DASHBOARD_HOST ?= 127.0.0.1
DASHBOARD_PORT ?= 8501
DASHBOARD_EXPORTS_DIR ?=
.PHONY: dashboard
$(STAMP): requirements-dashboard.txt

dashboard: $(STAMP) ## Serve the dashboard on DASHBOARD_HOST:DASHBOARD_PORT (127.0.0.1:8501; DASHBOARD_EXPORTS_DIR: another exports folder)
	$(if $(DASHBOARD_EXPORTS_DIR),DASHBOARD_EXPORTS_DIR=$(abspath $(DASHBOARD_EXPORTS_DIR))) exec $(BIN)/python -m streamlit run dashboard/app.py \
	  --server.address $(DASHBOARD_HOST) --server.port $(DASHBOARD_PORT) --server.headless true \
	  --browser.gatherUsageStats false --client.toolbarMode viewer

# Airflow: an environment of its own (.venv-airflow), apart from the pipeline's; its tasks run
# the pipeline's command line with .venv/bin/python. AIRFLOW_HOME is .airflow/ (git-ignored).
AIRFLOW_VENV  := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
AIRFLOW_HOME_DIR := $(CURDIR)/.airflow
.PHONY: airflow airflow-test

$(AIRFLOW_STAMP): requirements-airflow.txt
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/pip install --quiet -r requirements-airflow.txt
	touch $(AIRFLOW_STAMP)

$(AIRFLOW_HOME_DIR)/airflow.cfg:
	mkdir -p $(AIRFLOW_HOME_DIR)
	printf '[core]\ndags_folder = %s\nload_examples = False\n' "$(CURDIR)/dags" > $@

airflow: $(STAMP) $(AIRFLOW_STAMP) $(AIRFLOW_HOME_DIR)/airflow.cfg ## Create .venv-airflow and an AIRFLOW_HOME in .airflow/ running dags/
	AIRFLOW_HOME=$(AIRFLOW_HOME_DIR) $(AIRFLOW_VENV)/bin/airflow db migrate >/dev/null
	@echo "Airflow is ready: export AIRFLOW_HOME=$(AIRFLOW_HOME_DIR) and use $(AIRFLOW_VENV)/bin/airflow"

airflow-test: airflow ## Run the Airflow tests (tests_airflow/, in .venv-airflow)
	$(AIRFLOW_VENV)/bin/python -m pytest tests_airflow -p no:cacheprovider $(PYTEST_ARGS)

# --- Citus: a local cluster (coordinator + 2 workers) built from ../shared/vendor, in .citus/ ---
.PHONY: citus-up citus-down citus-status

citus-up: $(STAMP) ## Build Citus once, start a coordinator and 2 workers, print the DATABASE_URL
	$(BIN)/python -m citus.cluster up

citus-down: $(STAMP) ## Stop the Citus cluster's nodes (by their pids)
	$(BIN)/python -m citus.cluster down

citus-status: $(STAMP) ## Show the Citus nodes and their shard counts
	$(BIN)/python -m citus.cluster status

.PHONY: bench-dashboard
bench-dashboard: $(STAMP) ## Time each dashboard page in headless chromium and the app's peak memory (DASHBOARD_EXPORTS_DIR, else exports/)
	$(BIN)/python -m bench.dashboard --exports $(abspath $(or $(DASHBOARD_EXPORTS_DIR),exports))
