# The two README commands: `make sandbox` and `make test`. Everything is project-local (.venv, tools/azurite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AZURITE := tools/azurite/node_modules/.bin/azurite

.PHONY: help venv lock sandbox test lint types layers pytest infra-check azurite emulators bench clean report-screenshot live-test

help:
	@echo "make sandbox   run the whole service against embedded emulators, reports in ./reports/"
	@echo "make test      lint (ruff), types (mypy --strict), layers (import-linter), infra-check and pytest"
	@echo "make infra-check  checkov on infra/ (0 failed, 0 parsing errors), actionlint and zizmor on .github/workflows"
	@echo "make emulators start every emulator with the sample world (Ctrl-C to stop)"
	@echo "make bench     fleet-scale figures (1,000 apps x 50 tokens, ratios) into bench/results.json"
	@echo "make report-screenshot  render the sandbox's audit report in headless Chromium to docs/audit-report.png and -375.png"

# The venv is (re)installed only when the dependency files change: idempotent and quick on re-runs.
$(STAMP): requirements.txt requirements-dev.txt requirements.in requirements-serve.in requirements-dev.in pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, got " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

# The locks: requirements.txt (deployed: what the Function app's remote build installs) and requirements-dev.txt
# (everything make test installs), every transitive dependency pinned with its hashes. Edit the .in files, then:
LOCK := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock: $(STAMP)
	$(LOCK) --output-file requirements.txt requirements.in
	$(LOCK) --output-file requirements-dev.txt requirements-dev.in

# Azurite (the Azure Storage emulator) from the npm registry, pinned by tools/azurite/package-lock.json.
$(AZURITE): tools/azurite/package.json tools/azurite/package-lock.json
	@command -v node >/dev/null || { echo "Node.js 20+ is needed for Azurite: install it, then run make test" >&2; exit 2; }
	npm ci --prefix tools/azurite --no-audit --no-fund --loglevel=error
	@touch $(AZURITE)

azurite: $(AZURITE)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy --strict rotation emulators tests bench function_app.py

# import-linter: the layer and purity contracts of [tool.importlinter] in pyproject.toml.
layers: $(STAMP)
	$(BIN)/lint-imports

# pytest exits 5 when it collected no test: that is a failure here, like any other non-zero code.
pytest: $(STAMP) $(AZURITE)
	$(BIN)/python -m pytest

# checkov, actionlint and zizmor live in their own venv: checkov pins its dependencies, which conflict with ours.
INFRA_VENV := .venv-infra
INFRA_BIN := $(INFRA_VENV)/bin
INFRA_STAMP := $(INFRA_VENV)/.installed

$(INFRA_STAMP): requirements-infra.txt
	@test -x $(INFRA_BIN)/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_BIN)/python -m pip install --quiet --upgrade pip
	$(INFRA_BIN)/python -m pip install --quiet -r requirements-infra.txt
	@touch $(INFRA_STAMP)

# checkov exits 0 on files it cannot parse: infra/check.py reads its JSON report and fails on parsing errors,
# failed checks, unexplained skips or too few resources.
infra-check: $(INFRA_STAMP)
	$(INFRA_BIN)/python infra/check.py infra
	$(INFRA_BIN)/actionlint -shellcheck $(INFRA_BIN)/shellcheck .github/workflows/*.yml
	$(INFRA_BIN)/zizmor --offline .github/workflows

# infra-check before pytest, so that pytest's summary stays the closing line of `make test`
test: lint types layers infra-check pytest

sandbox: $(STAMP)
	$(BIN)/python -m emulators.sandbox

# The live conformance suite (tests/live) against a real app and vault, never part of `make test` (where it is
# collected and skipped): ROTATION_LIVE_APP=https://<app>.azureiotcentral.com ROTATION_LIVE_VAULT=https://<kv>.vault.azure.net
live-test: $(STAMP)
	@test -n "$$ROTATION_LIVE_APP" -a -n "$$ROTATION_LIVE_VAULT" || { echo "set ROTATION_LIVE_APP and ROTATION_LIVE_VAULT (docs/deploy.md)" >&2; exit 2; }
	$(BIN)/python -m pytest -q -ra tests/live

# Every fleet-scale figure (README "Performance") in one run, < 10 min: 1,000 apps x 50 tokens, emulators in their
# own process with 20 ms per request; writes bench/results.json. Quick run: make bench BENCH_ARGS="--apps 50".
bench: $(STAMP)
	$(BIN)/python -m bench.fleet $(BENCH_ARGS)

# Needs Debian's chromium package (apt-get install chromium); not part of make test.
report-screenshot: $(STAMP)
	$(BIN)/python -m emulators.sandbox.screenshot --out docs/audit-report.png
	$(BIN)/python -m emulators.sandbox.screenshot --out docs/audit-report-375.png --width 375 --height 2600 --scale 1

emulators: $(STAMP)
	$(BIN)/python -m emulators up --env-file .sandbox.env

clean:
	rm -rf $(VENV) $(INFRA_VENV) tools/azurite/node_modules reports .mypy_cache .ruff_cache .pytest_cache
