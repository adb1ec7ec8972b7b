# Intake: every entry point a developer or CI needs. Each target installs what it is missing.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
export UV_LINK_MODE ?= copy

.PHONY: bootstrap kustomize web web-test uppy-example chromium up down status test lint unit demo bench bench-report soak soak-short docs

bootstrap: web  ## install uv (from PyPI), the locked workspace, and build the upload page
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || python3 -m pip install --quiet --require-hashes -r deploy/uv-requirements.txt
	@$$(command -v uv || echo $(UV)) sync --frozen --quiet --compile-bytecode
	@# uv compiles site-packages only; the workspace is installed editable, and under
	@# PYTHONDONTWRITEBYTECODE every run would compile it again (~15 ms before the CLI's first request).
	@.venv/bin/python -m compileall -q client/src libs services deploy >/dev/null

kustomize:  ## the pinned kustomize (Go module proxy), which the manifest tests render with
	@bash deploy/k8s/kustomize.sh >/dev/null

web:  ## npm ci (only when the lock changed) and the esbuild bundle the gateway serves at /
	@command -v npm >/dev/null 2>&1 || { echo "make: web/ needs Node.js 20+ with npm" >&2; exit 1; }
	@[ web/node_modules/.package-lock.json -nt web/package-lock.json ] || \
		(cd web && npm ci --no-audit --no-fund --loglevel=error)
	@cd web && npm run --silent build

# The packed tarball of web/ (`npm pack`, reproducible) is what the example installs, as a host
# app would; it is replaced only when its bytes change, so npm ci runs only when needed.
UPPY_EXAMPLE := examples/uppy
uppy-example: web  ## examples/uppy: npm ci (committed lock) with the packed @intake/uploader, then its bundle
	@mkdir -p $(UPPY_EXAMPLE)/vendor && packed=$$(mktemp -d) && \
		(cd web && npm pack --silent --pack-destination "$$packed" >/dev/null) && \
		for tarball in "$$packed"/*.tgz; do \
			cmp -s "$$tarball" "$(UPPY_EXAMPLE)/vendor/$$(basename "$$tarball")" || \
				mv "$$tarball" $(UPPY_EXAMPLE)/vendor/; done; rm -rf "$$packed"
	@node $(UPPY_EXAMPLE)/locked-tarball.mjs --write
	@[ $(UPPY_EXAMPLE)/node_modules/.package-lock.json -nt $(UPPY_EXAMPLE)/package-lock.json ] && \
		[ $(UPPY_EXAMPLE)/node_modules/.package-lock.json -nt $(UPPY_EXAMPLE)/vendor ] || \
		(cd $(UPPY_EXAMPLE) && npm ci --no-audit --no-fund --loglevel=error)
	@cd $(UPPY_EXAMPLE) && npm run --silent build

web-test: uppy-example  ## unit tests of the UploadManager's pure logic (node --test); builds the Uppy example
	@cd web && npm test --silent

chromium:  ## Debian's chromium for the browser tests (Playwright drives it; nothing is downloaded)
	@command -v chromium >/dev/null 2>&1 || { \
		[ "$$(id -u)" = 0 ] || { echo "make: install chromium (apt-get install chromium)" >&2; exit 1; }; \
		echo "make: installing chromium with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

up: bootstrap  ## the native stack plus every service as its own process
	@bash deploy/stack.sh up
	@.venv/bin/python deploy/launcher.py up

down:  ## stop the services, then the stack; only what `up` started
	@[ ! -x .venv/bin/python ] || .venv/bin/python deploy/launcher.py down
	@bash deploy/stack.sh down

status:
	@bash deploy/stack.sh status
	@.venv/bin/python deploy/launcher.py status

lint: bootstrap  ## ruff (lint + format), mypy strict, and tsc strict on web/
	@.venv/bin/ruff check libs services client tests bench deploy scripts
	@.venv/bin/ruff format --check libs services client tests bench deploy scripts
	@.venv/bin/mypy
	@cd web && npm run --silent typecheck

# Two workers (the unit tests are independent and a third of their time is waiting), without
# the plugins only the conformance and browser suites use (importing them took ~3 s per worker).
UNIT_PLUGINS_OFF := -p no:faker -p no:hypothesispytest -p no:schemathesis -p no:anyio

unit: bootstrap kustomize  ## the unit tests, no server (two workers)
	@.venv/bin/pytest tests/unit -q -n 2 $(UNIT_PLUGINS_OFF)

test: lint kustomize web-test chromium  ## lint, web unit tests, then every test against the real stack, the short soak included
	@.venv/bin/pytest -q

soak-short: bootstrap  ## the short soak alone (150 uploads, every fault once; also part of `make test`)
	@bash deploy/stack.sh up
	@.venv/bin/pytest -q tests/soak

demo: up  ## run the system and show it working: two uploads, one killed and resumed
	@.venv/bin/python scripts/demo.py

soak: bootstrap  ## the long soak: 1,000 uploads while every part of the system fails (docs/reliability.md)
	@bash deploy/stack.sh up
	@.venv/bin/python -m tests.soak.run --uploads $${SOAK_UPLOADS:-1000} $${SOAK_SEED:+--seed $$SOAK_SEED} \
		--record bench/results/soak.json

bench: up  ## every benchmark bench/benchmarks.toml lists; results in bench/results/, then docs/benchmarks.md
	@bash deploy/stack.sh reclaim-s3
	@.venv/bin/python -m bench.run_all

bench-report: bootstrap  ## docs/benchmarks.md from bench/results/ as they are (no server)
	@.venv/bin/python -m bench.render

docs: bootstrap  ## JSON Schema and AsyncAPI documents of every message
	@.venv/bin/intake-docs docs
