# ttscale: `make demo` sets up and runs the default experiment; `make test` sets up and tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint format train clean cluster-up cluster-down cluster-status

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	PYTHON=$(PYTHON) bash scripts/setup.sh
	touch $(STAMP)

demo: setup  ## best-of-N on the embedded toy world (CPU, a few minutes)
	$(PY) run.py

test: setup  ## the whole suite, slow tests included (what CI runs)
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

train: setup  ## retrain the tiny policy, then the toy PRM from it, into models/ (seeded, CPU)
	$(PY) scripts/train_toy_models.py
	$(PY) learn.py

cluster-up:  ## install (root, apt) and start the local single-node Slurm cluster for tests
	bash slurm/local/install.sh && bash slurm/local/start.sh

cluster-down:
	bash slurm/local/stop.sh

cluster-status:
	bash slurm/local/status.sh

clean:
	rm -rf results logs .pytest_cache
