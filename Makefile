# Two commands set everything up from nothing: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= runs/demo
BENCH_DIR ?= runs/bench
BENCH_FLAGS ?=
TORCH := torch==2.13.0
# jaxgen's native library for XLA:CPU (native/onednn, jaxgen/nn/onednn.py): oneDNN's convolutions
# and the LSTM's recurrence on oneDNN's inner products, against the pinned CPU build of oneDNN on
# GNU OpenMP (libgomp from the system), compiled with a C++17 compiler (g++). The newer
# `onednn` wheel is a SYCL build whose CPU engine needs an OpenCL CPU runtime found through
# OCL_ICD_FILENAMES (and 4 GB of SYCL/OpenCL/compiler runtimes).
ONEDNN := onednn-cpu-gomp==2023.2.0 onednn-devel-cpu-gomp==2023.2.0
CMAKE := cmake==4.4.4  # from PyPI, into the venv: the build needs no system cmake
NATIVE_BUILD := build/onednn
NATIVE_LIB := jaxgen/nn/_native/libjaxgen_onednn.so
NATIVE_SOURCES := $(wildcard native/onednn/*)

.PHONY: demo test test-all lint bench native clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# The tests run with the library, so that CI checks the path every CPU run takes.
$(NATIVE_LIB): $(STAMP) $(NATIVE_SOURCES)
	$(BIN)/pip install -q $(ONEDNN) $(CMAKE)
	$(BIN)/cmake -S native/onednn -B $(NATIVE_BUILD) -DCMAKE_BUILD_TYPE=Release \
	  -DPython_EXECUTABLE=$(abspath $(BIN)/python) > /dev/null
	$(BIN)/cmake --build $(NATIVE_BUILD) -j 2 > /dev/null

native: $(NATIVE_LIB)

# The demo needs no compiler: without one it runs on XLA's convolutions, and says so.
demo: $(STAMP)
	$(MAKE) native || echo "oneDNN convolutions not built (see above); the demo uses XLA's" >&2
	$(BIN)/python -m jaxgen demo --workdir=$(DEMO_DIR)

test: $(NATIVE_LIB)
	$(BIN)/pytest -q -n 2 -m "not slow"

test-all: $(NATIVE_LIB)
	$(BIN)/pytest -q -n 2

# Every benchmark in benchmarks/, each writing its JSON object to $(BENCH_DIR)/NAME.json (progress
# on stderr), then benchmarks/table.py: every step benchmark's rows against its reference in
# $(BENCH_DIR)/table.json and table.md (printed). PyTorch, the reference most of them time
# against, is installed for them only. `make bench BENCH_FLAGS=--quick` runs the small forms.
# Run it on a quiet machine. The platform is detected: with an NVIDIA GPU (nvidia-smi lists one)
# JAX's CUDA plugin of the installed version is added unless JAX already sees the GPU, and the
# PyTorch side runs on CUDA wherever torch.cuda.is_available(); else both run on the CPU.
# BENCH_SKIP: the modules of benchmarks/ that are not benchmarks.
BENCH_SKIP := harness table torch_twins
BENCH_PLATFORM ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)

bench: $(NATIVE_LIB)
	$(BIN)/pip install -q $(TORCH)
	@if [ "$(BENCH_PLATFORM)" = gpu ] && \
	  [ "$$($(BIN)/python -c 'import jax; print(jax.default_backend())')" != gpu ]; then \
	  $(BIN)/pip install -q "jax[cuda13]==$$($(BIN)/python -c 'import jax; print(jax.__version__)')" \
	  || echo "could not install JAX's CUDA plugin: jaxgen's side runs on the CPU" >&2; \
	fi
	@echo "bench platform: $(BENCH_PLATFORM); JAX backend: \
	$$($(BIN)/python -c 'import jax; print(jax.default_backend())'); torch CUDA: \
	$$($(BIN)/python -c 'import torch; print(torch.cuda.is_available())')" >&2
	mkdir -p $(BENCH_DIR)
	failed=""; for script in benchmarks/*.py; do \
	  name=$$(basename $$script .py); \
	  case " $(BENCH_SKIP) " in *" $$name "*) continue;; esac; \
	  echo "== $$script $(BENCH_FLAGS)" >&2; \
	  $(BIN)/python $$script $(BENCH_FLAGS) > $(BENCH_DIR)/$$name.json || failed="$$failed $$name"; \
	done; \
	$(BIN)/python benchmarks/table.py $(BENCH_DIR); \
	echo "results: $(BENCH_DIR)/*.json, $(BENCH_DIR)/table.md" >&2; \
	if [ -n "$$failed" ]; then echo "failed:$$failed" >&2; exit 1; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info jaxgen/nn/_native
