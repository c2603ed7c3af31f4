# govops: one target per thing a person does. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help demo test test-fast lint bench artifacts schema check-codegen constraints clean mutate

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

test-fast: $(STAMP) ## run the fast tests only (under a minute: no servers, training, Git histories or CLI subprocesses)
	$(BIN)/python -m pytest -n 2 -m 'not slow' $(PYTEST_ARGS)

# mutation testing (issue 22): slow, so not part of `make test`; MUTATE narrows it (mutmut name globs)
MUTATE ?= engine.statistics.* engine.policy.exact.* engine.policy.regopy_input.* engine.policy.backend.* \
	engine.policy.judge.* engine.spec.check_result.* engine.report.handover.* engine.gateway.auth.* \
	engine.gateway.guard.* engine.gateway.app.x*Gateway*_authorise__mutmut_* engine.audit.chain.* \
	engine.audit.verify.*
MUTATE_STAMP := $(VENV)/.installed-mutate

$(MUTATE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,mutate]'
	@touch $(MUTATE_STAMP)

mutate: $(MUTATE_STAMP) ## mutation testing of the modules that carry the promises; prints the survivors table
	$(BIN)/python scripts/mutants_refresh.py
	$(BIN)/mutmut run --max-children 2 $(foreach m,$(MUTATE),'$(m)')
	$(BIN)/python scripts/mutation_report.py

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
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/warm_cache.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/explainability.py

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
