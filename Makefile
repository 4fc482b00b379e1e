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

TYPED := lambda_src/mgn_exporter local infra app.py

typecheck: setup
	$(BIN)/mypy $(TYPED)

# The type check runs beside the tests: mypy spends most of its two minutes on aws_cdk's typed
# sources, on one core, and CI's 2-core machine has the other for the tests (which are proven
# under two CPU burners). Either failing fails the target; mypy's report prints at the end.
test: lint
	@( $(BIN)/mypy $(TYPED) > $(VENV)/mypy.log 2>&1; echo $$? > $(VENV)/mypy.rc ) & \
	tests=0; $(BIN)/pytest || tests=$$?; wait; \
	echo "$(BIN)/mypy $(TYPED)"; cat $(VENV)/mypy.log; \
	test "$$(cat $(VENV)/mypy.rc)" = 0 && test $$tests = 0

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
