# The only way in: every task people and CI run is a target here.
# Each target creates and uses the local virtual environment by itself.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUNTIME_STAMP := $(VENV)/.runtime-stamp
PROTO_FILES := $(wildcard proto/resumeflow/v1/*.proto)
GEN_DIR := gen
BUF_VERSION := 1.75.0

.PHONY: setup run test lint fmt proto proto-check bench bench-smoke demo clean

# New top-level packages need a re-install of the editable package, hence the __init__ files.
# `make run` installs only what the services need; setup and test add the development tools.
$(RUNTIME_STAMP): pyproject.toml $(wildcard */__init__.py clients/python/*/__init__.py)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

## setup: create .venv and install the project with its development tools
setup: $(STAMP)

## run: start the runner (127.0.0.1:50051) and history (127.0.0.1:50052) services on embedded SQLite
run: $(RUNTIME_STAMP)
	$(BIN)/resumeflow serve

## proto: regenerate the Python stubs in gen/ from proto/
proto: setup
	rm -rf $(GEN_DIR)/resumeflow
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=$(GEN_DIR) --grpc_python_out=$(GEN_DIR) --pyi_out=$(GEN_DIR) $(PROTO_FILES)

## proto-check: fail when gen/ is stale against proto/
proto-check: setup
	@tmp=$$(mktemp -d) && \
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=$$tmp --grpc_python_out=$$tmp --pyi_out=$$tmp $(PROTO_FILES) && \
	if diff -r -x __pycache__ $$tmp/resumeflow $(GEN_DIR)/resumeflow; then rm -rf $$tmp; echo "generated stubs are up to date"; \
	else rm -rf $$tmp; echo "generated stubs are stale: run 'make proto'" >&2; exit 1; fi

## test: install what is needed, check the stubs, run the whole test suite
test: setup proto-check
	$(BIN)/python -m pytest

## demo: start the services and a small shop API, run examples/shop.yaml (it fails), resume it to success
demo: setup
	$(BIN)/python examples/demo.py

## bench: measure the services as separate processes and rewrite bench/RESULTS.md (several minutes)
bench: setup
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## bench-smoke: the same scenarios at tiny sizes, in seconds, to keep the harness working
bench-smoke: setup
	$(BIN)/python bench/run.py --smoke $(BENCH_ARGS)

## lint: buf lint on proto/, ruff and mypy on the code
lint: setup
	npx --yes @bufbuild/buf@$(BUF_VERSION) lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## fmt: format the code
fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache clients/node/node_modules
