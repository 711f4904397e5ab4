# Two commands on a fresh machine: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.har-installed
PYTEST_ARGS ?=

.PHONY: install demo test test-fast fuzz chaos lint format clean-cache

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# A short scenario2 run on the synthetic MM-Fit twin (generated under datasets/ on first use), the
# realistic preset (conf/data/mmfit_synth.yaml; data.twin=easy for the first, easier twin).
demo: $(STAMP)
	$(BIN)/python experiments/run_trial.py data.twin=realistic trainer.epochs=5

# Tests run in TEST_WORKERS processes (pytest-xdist), one test at a time each, with one torch thread
# each: much of a test's time is single-threaded (interpreter starts, imports, subprocesses), which
# the workers overlap. A file marked xdist_group stays in one worker (module fixtures, the cluster
# servers). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadgroup
test: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS)

test-fast: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m "not slow and not cluster" $(XDIST) $(PYTEST_ARGS)

# The fuzz suite (tests/fuzz) with its long Hypothesis profile: 500 broken trees per format.
fuzz: $(STAMP)
	HAR_FUZZ_PROFILE=fuzz $(BIN)/python -m pytest -q tests/fuzz $(PYTEST_ARGS)

# Many drawn kill schedules against fake searches (journal; PostgreSQL where installed) and
# run_eval (README, "Reliability: what a kill costs").
CHAOS_SCHEDULES ?= 40
CHAOS_SEED ?= 0
chaos: $(STAMP)
	HAR_CHAOS_SCHEDULES=$(CHAOS_SCHEDULES) HAR_CHAOS_SEED=$(CHAOS_SEED) \
		$(BIN)/python -m pytest -q -m chaos tests/reliability $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean-cache:
	rm -rf .cache/har
