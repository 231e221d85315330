# The two commands of the quick start: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench loadtest hostile plugins clean setup ui-deps

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/mockforge serve --config examples/mockforge.yaml --state on

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test: $(STAMP) lint ui-deps
	$(BIN)/python -m pytest -n 2 -q tests

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

loadtest: $(STAMP)
	bash tests/load/run_all.sh

hostile: $(STAMP)
	$(BIN)/python benchmarks/hostile_load.py

plugins: $(STAMP)
	cd examples/plugins/as-greeter && npm ci --no-audit --no-fund && npm run build
	for d in examples/plugins/*/; do $(BIN)/mockforge plugin validate $$d || exit 1; done

clean:
	rm -rf $(VENV) .mockforge-cache

# The browser tests' Chromium and driver (Debian packages). As root (CI) they are installed when
# missing; elsewhere this prints how, and the browser tests skip (they fail under CI=true).
ui-deps:
	@if [ -x /usr/bin/chromedriver ] && [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "ui-deps: chromium/chromedriver missing; install them with: sudo apt-get install -y chromium chromium-driver"; fi
