# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export WALLET_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test test-dates fuzz lint format bench bench-deps install certs db demo services system-deps clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

certs: install
	$(BIN)/wallet-service certs dev

db: install
	$(BIN)/wallet-service db upgrade

demo: db
	$(BIN)/wallet-service demo

run: install certs db
	@echo
	@$(BIN)/wallet-service demo
	@echo
	@echo "API docs   http://127.0.0.1:8000/docs"
	@echo "Health     http://127.0.0.1:8000/healthz"
	@echo
	$(BIN)/wallet-service serve --host 127.0.0.1 --port 8000

# PostgreSQL and Redis run on the machine; start them when they are down.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; pg_isready -h 127.0.0.1 -p 5432
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log

# Debian packages the tests drive: a browser, a compose validator, a barcode decoder CLI, and
# faketime for the awkward-date runs.
SYSTEM_TOOLS := /usr/bin/chromium /usr/bin/docker-compose /usr/bin/zbarimg /usr/bin/faketime
system-deps:
	@missing=""; for tool in $(SYSTEM_TOOLS); do test -x $$tool || missing=1; done; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium docker-compose zbar-tools faketime >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install services system-deps lint
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-dates

# The OpenAPI fuzz, longer and random (the suite runs it short and derandomised).
FUZZ_EXAMPLES ?= 200
fuzz: install
	WALLET_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -p no:cacheprovider tests/fuzz

# The date-sensitive tests, with the machine's date AND the suite's pinned clock moved to
# awkward dates: a test that reads the machine's clock, or date arithmetic that breaks at a
# month or year end, fails here. CI runs two dates; DATES=... runs others.
DATE_SENSITIVE_TESTS := tests/loyalty tests/scanning tests/test_worker.py tests/test_clock.py \
	tests/apple/test_web_service.py tests/api/test_auth.py
DATES ?= 2028-02-29T23:30:00 2026-12-31T23:30:00
# SQLite only here: the main run covers PostgreSQL, awkward dates included.
DATE_TEST_FILTER ?= not postgresql
test-dates: install services system-deps
	@for date in $(DATES); do \
		echo "== date-sensitive tests on $$date (faketime)"; \
		WALLET_TEST_NOW="$$date+00:00" TZ=UTC faketime "$${date/T/ }" \
			$(BIN)/pytest -p no:cacheprovider -k "$(DATE_TEST_FILTER)" $(DATE_SENSITIVE_TESTS) || exit 1; \
	done

# wrk drives the scan benchmark: a C load generator does not starve the server of CPU.
bench-deps:
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)

bench: install services bench-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
