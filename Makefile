# Thin wrappers; everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DOCS_STAMP := $(VENV)/.docs-stamp

.PHONY: install demo test test-fast lint docs bench serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,service]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/binroute plan sample_data/helsinki --date 2026-11-23 --out out/demo --time-limit 20

# The suite on $(TEST_WORKERS) worker processes (pytest-xdist), each test file on one worker so that
# its module-scoped fixtures (a planned sample, a server) are built once; TEST_WORKERS=0 runs it in one.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test: install
	$(PYTEST)

# Everything but the slow tests and those that start servers and workers.
test-fast: install
	$(PYTEST) -m "not slow and not service and not network"

LINTED := binroute routing geo api tests benchmarks sample_data

lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

# The documentation site, into site/; any warning fails the build. Needs no network.
# Then the tutorial's commands, run as written (the `docs` tests; `make test` leaves them out).
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	$(BIN)/python -m pytest -q -m docs tests/docs

bench: install
	$(BIN)/python -m benchmarks.run

serve: install
	$(BIN)/binroute serve

clean:
	rm -rf out site .pytest_cache .mypy_cache .ruff_cache
