# Two commands set everything up from nothing: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= runs/demo
BENCH_DIR ?= runs/bench
BENCH_FLAGS ?=
TORCH := torch==2.13.0

.PHONY: demo test test-all lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m jaxgen demo --workdir=$(DEMO_DIR)

test: $(STAMP)
	$(BIN)/pytest -q -n 2 -m "not slow"

test-all: $(STAMP)
	$(BIN)/pytest -q -n 2

# Every benchmark in benchmarks/, each writing its JSON object to $(BENCH_DIR)/NAME.json (progress
# on stderr). PyTorch, the reference most of them time against, is installed for them only.
# `make bench BENCH_FLAGS=--quick` runs the small forms. Run it on a quiet machine.
bench: $(STAMP)
	$(BIN)/pip install -q $(TORCH)
	mkdir -p $(BENCH_DIR)
	for script in benchmarks/*.py; do \
	  name=$$(basename $$script .py); [ $$name = harness ] && continue; \
	  echo "== $$script $(BENCH_FLAGS)" >&2; \
	  $(BIN)/python $$script $(BENCH_FLAGS) > $(BENCH_DIR)/$$name.json || exit 1; \
	done
	@echo "results: $(BENCH_DIR)/*.json" >&2

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info
