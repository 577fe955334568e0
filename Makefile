# unillm: `make run` serves everything on http://127.0.0.1:8000; `make test` runs the whole suite.
# uv is bootstrapped into .tools/ when it is not on PATH, so a fresh machine needs only Python 3.11+.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)

.PHONY: run test lint typecheck sync bench clean

$(CURDIR)/.tools/bin/uv:
	@echo "uv not found: installing it into .tools/"
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

sync: $(UV)
	$(UV) sync --frozen

run: sync
	$(UV) run unillm serve

lint: sync
	$(UV) run ruff check src tests bench
	$(UV) run ruff format --check src tests bench

typecheck: sync
	$(UV) run mypy

test: sync
	$(UV) run ruff check src tests bench
	$(UV) run mypy
	$(UV) run pytest $(PYTEST_ARGS)

bench: sync
	$(UV) run python bench/run.py

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache
