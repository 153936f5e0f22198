# `make run` and `make test` work on a machine with only Python 3.11+, make and PyPI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --quiet
# The development set, installed exactly as locked; `make lock` writes it from pyproject.toml.
LOCKS := requirements/pip.txt requirements/development.txt
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCKS) 2>/dev/null | cksum | cut -d' ' -f1)

.PHONY: install lock run test lint typecheck pytest fuzz format openapi bench bench-webhooks profile instructions clean

# The stamp is named by the checksum of pyproject.toml and the locks: a change to their text
# installs a fresh venv, so nothing outside the lock lingers; a rewrite without change does not.
$(STAMP): | $(LOCKS)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		(echo "Python 3.11 or newer is required" >&2; exit 1)
	$(PYTHON) -m venv --clear $(VENV)
	$(PIP) install --require-hashes -r requirements/pip.txt
	$(PIP) install --require-hashes -r requirements/development.txt
	$(PIP) install --no-deps -e .
	touch $@

requirements/%.txt:
	@echo "$@ is missing: run make lock" >&2; exit 1

# Resolve the lock files again from pyproject.toml, keeping each pin that still fits
# (`make lock UPGRADE=1` takes the newest of everything). The development set is resolved
# first and the production set within it, so the tests run the versions the image ships.
# Universal: one lock for every platform and for Python 3.11 and newer.
UV_COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# A lock file left with merge conflicts cannot be read: it is resolved afresh.
	@grep -l -E '^(<<<<<<<|=======|>>>>>>>)' requirements/*.txt 2>/dev/null | xargs -r rm -v
	@if [ -f requirements/uv.txt ]; then $(PIP) install --require-hashes -r requirements/uv.txt; \
		else $(PIP) install uv; fi
	echo pip | $(UV_COMPILE) - -o requirements/pip.txt
	echo uv | $(UV_COMPILE) - -o requirements/uv.txt
	$(UV_COMPILE) pyproject.toml --extra dev --extra embedded --extra nats \
		-o requirements/development.txt
	$(UV_COMPILE) pyproject.toml -c requirements/development.txt -o requirements/production.txt

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

# One webhook worker delivering a backlog of EVENTS (over ORDERS orders) to a receiver on
# loopback: what one worker can deliver per second (docs/performance.md).
bench-webhooks: install
	$(BIN)/python bench/webhooks.py --drain --dispatchers 1 --events $${EVENTS:-4000} \
		--orders $${ORDERS:-200} $${BENCH_DATABASE_URL:+--database-url $$BENCH_DATABASE_URL}

profile: install
	$(BIN)/python bench/run.py --profile $${WHAT:-create}

instructions: install
	$(BIN)/python bench/instructions.py $${SRC:+--src $$SRC} $${OPERATION:+--operation $$OPERATION}

openapi: install
	$(BIN)/order-service openapi --output openapi/openapi.json

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
