# Every target creates (or reuses) the virtual environment in .venv.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BYTECODE := $(VENV)/.bytecode-stamp
SIZE ?= 100000
# Test processes. Many tests wait on daemons, CLI processes and sockets rather than
# compute, so more workers than cores pays: on 2 cores, 3 beat 2 and 4.
TEST_WORKERS ?= 3

.PHONY: run once test lint fmt bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The package's bytecode, compiled ahead and again for each changed module: where
# PYTHONDONTWRITEBYTECODE is set (containers, CI), every command would otherwise
# compile every module it imports at each start (about 0.1 s of CPU). Only a
# speed-up: a tree it cannot write to still runs (hence the leading -).
$(BYTECODE): $(STAMP) $(shell find syndicator -name '*.py')
	-$(BIN)/python -m compileall -q syndicator
	touch $(BYTECODE)

run: $(BYTECODE)  ## start the daemon on config/syndicator.toml and the shipped seeds
	$(BIN)/syndicator run

once: $(BYTECODE)  ## one poll, build and delivery pass
	$(BIN)/syndicator once

test: $(BYTECODE)  ## the whole test suite, TEST_WORKERS processes (0: no workers, one process)
	scripts/test-tools.sh
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup

lint: $(STAMP)  ## ruff, formatting, mypy --strict, import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BYTECODE)  ## benchmarks (not in CI); SIZE=1000000 for the linear-growth run
	bench/tools.sh
	$(BIN)/python bench/run.py --size $(SIZE)

# New inputs go to $(FUZZ_OUT) (untracked); fuzz/corpus holds the seeds. A crash
# writes $(FUZZ_OUT)/crash-<sha1>: turn it into tests/hardening/test_regressions.py.
FUZZ_TIME ?= 60
FUZZ_OUT := var/fuzz

fuzz: $(STAMP)  ## fuzz the record parser and the renderer, FUZZ_TIME seconds each (not in CI)
	$(BIN)/python -c "import atheris" 2>/dev/null || $(BIN)/pip install --quiet atheris
	mkdir -p $(FUZZ_OUT)/records $(FUZZ_OUT)/render
	$(BIN)/python fuzz/fuzz_records.py -max_total_time=$(FUZZ_TIME) -dict=fuzz/records.dict \
		-artifact_prefix=$(FUZZ_OUT)/ -print_final_stats=1 $(FUZZ_OUT)/records fuzz/corpus/records
	$(BIN)/python fuzz/fuzz_render.py -max_total_time=$(FUZZ_TIME) \
		-artifact_prefix=$(FUZZ_OUT)/ -print_final_stats=1 $(FUZZ_OUT)/render fuzz/corpus/render

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
