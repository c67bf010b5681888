# Two commands set up everything on a fresh machine:
#   make run   - create .venv, install matdiff with its test extras, run a real derivation
#   make test  - the same set-up, then the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# the extras `make setup` (and `make run`) install; `make test` installs TEST_EXTRAS, which add
# jax and torch so the JAX and PyTorch back-end tests run (`make test TEST_EXTRAS=test` skips them)
EXTRAS ?= test
TEST_EXTRAS ?= test,backends
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: run test bench soak setup clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/matdiff "trace(X*A*X)" --wrt X
	$(BIN)/matdiff "x'*inv(S)*x + logdet(S)" --wrt S --symmetric S

test:
	$(MAKE) --no-print-directory setup EXTRAS=$(TEST_EXTRAS)
	$(BIN)/python -m pytest

# random expressions (gradients and Jacobians, several seeds): values against the syntax-tree
# evaluator, derivatives against its finite differences; 20,000 by default, not part of `make test`
SOAK_ARGS ?= --count 2000 --seeds 1,2,3,4,5
soak: setup
	$(BIN)/python tests/soak.py $(SOAK_ARGS) -v

# the comparators (the "bench" extra) are installed one by one: one that cannot be installed
# (no network, no wheel for this platform) is skipped with a message and its column stays empty.
# The timings run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, in these commands alone, so
# that NumPy's BLAS uses the kernels OpenBLAS picks for this CPU as XLA does (some machines force
# an older core; see benchmarks/blas_info.py). The headers say which kernel ran.
NATIVE_BLAS := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
bench: setup
	$(BIN)/python benchmarks/install_comparators.py
	$(NATIVE_BLAS) $(BIN)/python benchmarks/bench_core.py
	$(NATIVE_BLAS) $(BIN)/python benchmarks/bench_autodiff.py --threads 1
	$(NATIVE_BLAS) $(BIN)/python benchmarks/bench_autodiff.py
	@if $(BIN)/python -c "import jax" 2>/dev/null; then \
	  echo "$(BIN)/python benchmarks/bench_jax.py"; $(NATIVE_BLAS) $(BIN)/python benchmarks/bench_jax.py || exit 1; \
	  echo "$(BIN)/python benchmarks/bench_matfun.py"; $(NATIVE_BLAS) $(BIN)/python benchmarks/bench_matfun.py || exit 1; \
	else echo "skipping bench_jax.py and bench_matfun.py: JAX is not installed"; fi

clean:
	rm -rf $(VENV) build *.egg-info
