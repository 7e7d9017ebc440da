# Every target creates (or reuses) the virtual environment in .venv.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SIZE ?= 100000

.PHONY: run once test lint fmt bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## start the daemon on config/syndicator.toml and the shipped seeds
	$(BIN)/syndicator run

once: $(STAMP)  ## one poll, build and delivery pass
	$(BIN)/syndicator once

test: $(STAMP)  ## the whole test suite
	$(BIN)/pytest -q

lint: $(STAMP)  ## ruff, formatting, mypy --strict, import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)  ## benchmarks (not in CI); SIZE=1000000 for the linear-growth run
	$(BIN)/python bench/run.py --size $(SIZE)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
