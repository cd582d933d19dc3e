# Guardian — developer and CI entry points.
#
#   make run    create .venv, install, create/upgrade the SQLite database under var/,
#               load the demo (once) and serve http://127.0.0.1:8000
#   make test   install what the tests need (Chromium if there are browser tests,
#               a throwaway PostgreSQL if none answers on 127.0.0.1:5432), then ruff,
#               import-linter and pytest against SQLite and PostgreSQL, in
#               PYTEST_WORKERS pytest-xdist workers (each its own PostgreSQL database)
#   make test-unit  the fast tier: ruff, import-linter and tests/unit (no database)
#
# Every target is idempotent. Only the venv's own pip is used; Debian packages are
# installed only when a binary is missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=
# Parallel test workers (pytest-xdist); the browser tests share one of them. 0: one process.
PYTEST_WORKERS ?= 2

# "sudo" only when we are not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# $(call apt_install,PKG...): apt-get update, then install without recommends.
apt_install = $(SUDO) apt-get update && \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(1)

.PHONY: help install run test test-unit lint bench bench-tools clean chromium vendor _checks _ruff _imports _pytest

help:
	@echo "make run      install, create the SQLite database, load the demo, serve on :8000"
	@echo "make test     ruff + import-linter + pytest on SQLite and PostgreSQL, in"
	@echo "              PYTEST_WORKERS (2) workers (PYTEST_ARGS=...)"
	@echo "make test-unit  the fast tier: ruff, import-linter and tests/unit (no database, seconds)"
	@echo "make lint     ruff + import-linter only"
	@echo "make bench    run bench/import_ptl.py"
	@echo "make bench-tools  install Debian's wrk (bench/web_cost.py's load generator)"
	@echo "make clean    remove the databases under var/ (keeps .venv)"
	@echo "make vendor   re-fetch the pinned NHS.UK frontend, htmx, Swagger UI and (for the"
	@echo "              browser tests) axe-core (needs npm)"

# --- Python environment -----------------------------------------------------------

# The interpreter: python3.11 if present, else python3 if it is 3.11 or newer, else
# Debian's python3.11. Debian ships venv's ensurepip separately (python3.X-venv); install
# it when venv fails.
$(VPY):
	@py="$$(command -v python3.11 || true)"; \
	if [ -z "$$py" ] && command -v python3 >/dev/null && \
	   python3 -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))'; then \
	  py="$$(command -v python3)"; \
	fi; \
	if [ -z "$$py" ]; then \
	  echo "no python3.11 or newer found: installing Debian's python3.11" >&2; \
	  $(call apt_install,python3.11 python3.11-venv); \
	  py=/usr/bin/python3.11; \
	fi; \
	echo "creating $(VENV) with $$py"; \
	if ! "$$py" -m venv $(VENV); then \
	  rm -rf $(VENV); \
	  venv_pkg="python$$("$$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"; \
	  echo "venv failed: installing Debian's $$venv_pkg" >&2; \
	  $(call apt_install,$$venv_pkg); \
	  "$$py" -m venv $(VENV); \
	fi

# Re-installs only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install --disable-pip-version-check -q -e '.[test]'
	@touch $@

install: $(STAMP)

var:
	mkdir -p var

# --- Run the product --------------------------------------------------------------

run: install | var
	$(VENV)/bin/guardian db init
	$(VENV)/bin/guardian demo
	@cat var/demo-logins.txt 2>/dev/null || true
	$(VENV)/bin/guardian serve --host 127.0.0.1 --port 8000

# --- Tests ------------------------------------------------------------------------

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(call apt_install,chromium fonts-liberation); \
	fi

TEST_PREREQS := install
ifneq ($(wildcard tests/browser),)
TEST_PREREQS += chromium
endif

# One PostgreSQL for the whole run: the wrapper exports GUARDIAN_TEST_PG_URL.
# -k: all three checks run even when one fails; make still exits non-zero.
test: $(TEST_PREREQS) | var
	infra/with-test-postgres.sh $(MAKE) --no-print-directory -k _checks

_checks: _ruff _imports _pytest

_ruff:
	$(VENV)/bin/ruff check guardian tests bench

_imports:
	$(VENV)/bin/lint-imports

# --dist loadgroup: tests marked xdist_group (the browser tests, the harness's own tests)
# stay together in one worker, in file order.
_pytest:
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The fast tier: no database, no browser, no server; seconds. PostgreSQL is pointed at a
# port nothing listens on, so a unit test that came to need a server fails here.
test-unit: install
	$(MAKE) --no-print-directory -k _ruff _imports
	GUARDIAN_TEST_PG_URL=postgresql+psycopg2://postgres@127.0.0.1:1/postgres \
	  $(VENV)/bin/pytest -q tests/unit $(PYTEST_ARGS)

lint: install
	$(MAKE) --no-print-directory -k _ruff _imports

bench: install | var
	$(VPY) bench/import_ptl.py

# wrk drives bench/web_cost.py's closed loops (bench/wrk_loop.py); without it that bench
# falls back to a Python client, which spends the server's CPU on itself.
bench-tools: install
	@command -v wrk >/dev/null || { $(call apt_install,wrk); }

# The front end is checked in under guardian/web/static/vendor/; this re-fetches it from
# the npm registry at the versions pinned in infra/vendor-frontend.sh (never at run time).
vendor:
	infra/vendor-frontend.sh

clean:
	rm -f var/*.sqlite var/*.sqlite-wal var/*.sqlite-shm var/*.sqlite-journal var/demo-logins.txt
	rm -rf .pytest_cache .ruff_cache
