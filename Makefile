# Intake: every entry point a developer or CI needs. Each target installs what it is missing.
SHELL := /bin/bash
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
export UV_LINK_MODE ?= copy

.PHONY: bootstrap up down status test lint unit demo bench docs check-docs

bootstrap:  ## install uv (from PyPI) and the locked workspace
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	@$$(command -v uv || echo $(UV)) sync --frozen --quiet --compile-bytecode

up: bootstrap  ## the native stack plus every service as its own process
	@bash deploy/stack.sh up
	@.venv/bin/python deploy/launcher.py up

down:  ## stop the services, then the stack; only what `up` started
	@[ ! -x .venv/bin/python ] || .venv/bin/python deploy/launcher.py down
	@bash deploy/stack.sh down

status:
	@bash deploy/stack.sh status
	@.venv/bin/python deploy/launcher.py status

lint: bootstrap  ## ruff (lint + format) and mypy strict
	@.venv/bin/ruff check libs services client tests bench deploy scripts
	@.venv/bin/ruff format --check libs services client tests bench deploy scripts
	@.venv/bin/mypy

unit: bootstrap
	@.venv/bin/pytest tests/unit -q

test: lint  ## lint, then every test against the real stack (started if needed)
	@.venv/bin/pytest -q

demo: up  ## run the system and show it working: two uploads, one killed and resumed
	@.venv/bin/python scripts/demo.py

bench: up  ## every benchmark; results in bench/results/ and docs/benchmarks.md
	@.venv/bin/python bench/run_all.py

docs: bootstrap  ## JSON Schema and AsyncAPI documents of every message
	@.venv/bin/intake-docs docs
