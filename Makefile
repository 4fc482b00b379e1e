# The README's commands. `make test` is what CI runs (.ci/run).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: setup sandbox test lint typecheck unit bench bench-fanout faults synth clean

setup: $(VENV)/.installed

# uv installs the same requirements as pip, about ten times faster (CI's clean machine spends
# over a minute in pip otherwise); it comes from PyPI like everything else.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[cdk,dev]"
	touch $@

# The README's first command: the whole deployed system on a local cloud (moto), no AWS account.
# Options: make sandbox ARGS="--accounts 8 --jobs 100 --seed 3" (see python -m local.sandbox --help).
sandbox: setup
	$(BIN)/python -m local.sandbox $(ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy lambda_src/mgn_exporter local infra app.py

test: lint typecheck
	$(BIN)/pytest

unit: setup
	$(BIN)/pytest tests/unit

# The fault suite's full set (CI runs its quick subset inside `make test`).
faults: setup
	$(BIN)/python -m local.faultsuite $(ARGS)

bench: setup
	$(BIN)/python -m local.benchmarks.exporter_bench

# Drain a backlog of 200 accounts x 1,000 items at 1, 4 and 8 workers (about 15 minutes here).
bench-fanout: setup
	$(BIN)/python -m local.benchmarks.fanout_bench $(ARGS)

synth: setup
	CDK_OUTDIR=cdk.out $(BIN)/python app.py

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
