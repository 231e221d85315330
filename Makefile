# The two commands of the quick start: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench loadtest hostile plugins clean setup ui-deps redis redis-deps

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

test: $(STAMP) lint ui-deps redis-deps
	$(BIN)/python -m pytest -n 2 -q tests

# The shared-state tests start their own redis-server (Debian package); install it when missing
# (CI runs as root on Debian; elsewhere sudo is used when present).
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo)
redis-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "redis-server missing: installing the Debian package"; \
	  $(SUDO) apt-get install -y redis-server || { $(SUDO) apt-get update && $(SUDO) apt-get install -y redis-server; }; }

# A local Redis for development (docs/SHARED_STATE.md): no persistence, loopback only.
REDIS_PORT ?= 6379
redis: redis-deps
	redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --save '' --appendonly no

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
