# `make run` and `make test` work on a machine with only Python 3.11+, make and PyPI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test lint typecheck pytest fuzz format openapi bench profile instructions clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		(echo "Python 3.11 or newer is required" >&2; exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# `make run HOST=0.0.0.0 PORT=8001`. exec: the service takes the shell's place, so on Ctrl-C
# make hears only from it (it stops and exits 0), not of a shell killed by the signal.
HOST ?= 127.0.0.1
PORT ?= 8000
run: install
	exec env ORDER_SERVICE_WEBHOOK_ALLOW_PRIVATE_TARGETS=$${ORDER_SERVICE_WEBHOOK_ALLOW_PRIVATE_TARGETS:-true} \
		$(BIN)/order-service serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

# Many more generated requests per operation than `make test`, plus the coverage phase.
FUZZ_EXAMPLES ?= 200
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_COVERAGE=1 $(BIN)/pytest tests/test_fuzz.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/run.py

profile: install
	$(BIN)/python bench/run.py --profile $${WHAT:-create}

instructions: install
	$(BIN)/python bench/instructions.py $${SRC:+--src $$SRC} $${OPERATION:+--operation $$OPERATION}

openapi: install
	$(BIN)/order-service openapi --output openapi/openapi.json

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
