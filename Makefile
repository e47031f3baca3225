# Loyalty & sales analytics pipeline. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATE   ?= 2026-11-30
PYTEST_ARGS ?=
SOURCE ?= demo
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test lab strip bench clean-exports reset-db

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

test: $(STAMP) ## Run the whole test suite (embedded PostgreSQL, plus TEST_DATABASE_URL if set)
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

strip: $(STAMP) ## Strip outputs from the committed notebooks
	$(BIN)/python -m etl_helpers.notebook_hygiene --strip notebooks/*.ipynb

lab: $(STAMP) ## Open JupyterLab on notebooks/ with the project kernel
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP) ## Benchmark at medium and large scale (long; results in bench/results/)
	$(BIN)/python -m bench.run --scale medium --scale large --runs 3

clean-exports: ## Delete generated exports and processed data (raw data and the database stay)
	rm -rf exports/*/ data/processed/*/

reset-db: $(STAMP) ## Drop the pipeline's schemas in the configured database
	$(BIN)/python run_pipeline.py --reset-database

# --- Citus: a local cluster (coordinator + 2 workers) built from ../shared/vendor, in .citus/ ---
.PHONY: citus-up citus-down citus-status

citus-up: $(STAMP) ## Build Citus once, start a coordinator and 2 workers, print the DATABASE_URL
	$(BIN)/python -m citus.cluster up

citus-down: $(STAMP) ## Stop the Citus cluster's nodes (by their pids)
	$(BIN)/python -m citus.cluster down

citus-status: $(STAMP) ## Show the Citus nodes and their shard counts
	$(BIN)/python -m citus.cluster status
