# govops: one target per thing a person does. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help demo test test-fast lint bench artifacts schema check-codegen constraints clean

help: ## list what you can do here
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP) ## run the whole story on embedded defaults (PR -> policy -> validation -> merge -> rollout -> audit)
	$(BIN)/python scripts/demo.py

test: $(STAMP) ## run every test (what CI runs)
	@scripts/system-deps.sh $(BIN)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

test-fast: $(STAMP) ## run the fast tests only (no servers, no training)
	$(BIN)/python -m pytest -n 2 -m 'not slow' $(PYTEST_ARGS)

lint: $(STAMP) ## ruff + mypy
	$(BIN)/ruff check engine runners tests benchmarks scripts
	$(BIN)/mypy

bench: $(STAMP) ## run the benchmarks and print their numbers (for README)
	$(BIN)/python benchmarks/lint_specs.py
	$(BIN)/python benchmarks/check.py
	$(BIN)/python benchmarks/plan.py
	$(BIN)/python benchmarks/drift.py
	$(BIN)/python benchmarks/rollout.py
	$(BIN)/python benchmarks/gateway.py
	$(BIN)/python benchmarks/monitor.py
	$(BIN)/python benchmarks/audit.py
	$(BIN)/python benchmarks/verify.py

artifacts: $(STAMP) ## rebuild the example models and data and re-pin their digests in specs/
	$(BIN)/python -m engine.examples build --root .

schema: $(STAMP) ## re-export the committed JSON Schemas from the pydantic models
	GOVOPS_REGENERATE=1 $(BIN)/python -m pytest -q tests/spec/test_schema_export.py

check-codegen: $(STAMP) ## fail if committed generated files drift from a fresh render
	$(BIN)/python -m pytest -q tests/spec/test_schema_export.py tests/validation/test_runners_schema.py tests/validation/test_argo_render.py tests/rollout/test_rollout_kubernetes.py
	$(BIN)/python -m engine.cli argo render --check

constraints: $(STAMP) ## re-pin docker/constraints.txt (the validator image) from the installed versions
	$(BIN)/python scripts/pin_constraints.py > docker/constraints.txt

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
