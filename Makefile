# DJS developer entry points.  `make help` lists them.
#
#   make test   system packages (apt, root only) + venv + web-ui deps, console build and
#               unit tests (Vitest), then the two-pass suite (sqlite, mariadb; it includes the
#               Chromium end-to-end tests) via scripts/run_tests.py
#   make run    venv + web-ui build, migrate, bootstrap, start the platform
#
# Extra pytest arguments: make test TEST_ARGS="--only mariadb -x -k revocation"

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Prerequisites are built strictly left to right: system packages must exist
# before pip builds mysqlclient, and the venv before anything uses it.
.NOTPARALLEL:

VENV        := .venv
PY          := $(VENV)/bin/python
VENV_STAMP  := $(VENV)/.installed
RUN_STAMP   := $(VENV)/.installed-run
WEB_UI      := web-ui
TEST_ARGS   ?=

# Web console (web-ui/) -------------------------------------------------------
# Everything web-ui related is skipped while web-ui/package.json does not exist.
HAVE_WEB_UI := $(wildcard $(WEB_UI)/package.json)
WEB_UI_LOCK := $(wildcard $(WEB_UI)/package-lock.json)
WEB_UI_DEPS := $(WEB_UI)/node_modules/.djs-installed
#
# The web console test step: its unit tests (Vitest), run from the repo root by `make test` after the
# console is built and before the Python suite (whose closing summary line stays last).  The Chromium
# end-to-end tests (tests/e2e) run inside the Python suite against the built web-ui/dist.
# Only runs when web-ui/package.json exists.
WEB_UI_TEST_CMD := npm --prefix $(WEB_UI) test

.PHONY: help test run system-deps system-deps-run mysql-driver check-fresh venv web-ui-deps web-ui-build test-python test-web-ui lint clean bench bench-quick bench-deps bench-console bench-records fuzz soak crash-cluster locale messages

help: ## Show this help
	@echo "DJS make targets:"
	@grep -hE '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: TEST_ARGS='--only sqlite|mariadb <pytest args>'  DJS_TEST_WORKERS=N (pytest-xdist)"

system-deps: ## Install missing Debian packages (as root; otherwise prints the sudo command)
	@scripts/ensure_system_deps.sh

# The venv is (re)built when a requirements file or pyproject.toml (djsctl) changes.  A venv whose Python
# is missing or is not 3.11 (e.g. copied from elsewhere) is recreated.  Two stamps: `make run` needs the
# runtime requirements only (the MySQL driver is decided separately, scripts/mysql_driver.py), `make test`
# everything in requirements-dev.txt (which includes the MySQL driver).
define ENSURE_VENV
	@if [ -x "$(PY)" ] && "$(PY)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then \
	  :; \
	else \
	  if command -v python3.11 >/dev/null 2>&1; then base=python3.11; \
	  elif command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then base=python3; \
	  else echo "error: Python 3.11 is required (python3.11 or python3 = 3.11)" >&2; exit 1; fi; \
	  echo "venv: creating $(VENV) with $$($$base --version)"; \
	  "$$base" -m venv --clear $(VENV); \
	  "$(PY)" -m pip install --quiet --disable-pip-version-check --upgrade pip; \
	fi
endef

define INSTALL_DJSCTL
	@echo "venv: installing djsctl (pip install -e ., console script .venv/bin/djsctl; setuptools' editable-mode warning silenced)"
	@PYTHONWARNINGS=ignore "$(PY)" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
endef

$(VENV_STAMP): requirements.txt requirements-mysql.txt requirements-dev.txt pyproject.toml
	$(ENSURE_VENV)
	@echo "venv: installing requirements-dev.txt"
	@"$(PY)" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(INSTALL_DJSCTL)
	@touch $@ $(RUN_STAMP)

$(RUN_STAMP): requirements.txt pyproject.toml
	$(ENSURE_VENV)
	@echo "venv: installing requirements.txt"
	@"$(PY)" -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(INSTALL_DJSCTL)
	@touch $@

venv: $(VENV_STAMP) ## Create/update .venv (Python deps only, no apt)

# npm ci when node_modules is missing or older than package.json / the lockfile.
$(WEB_UI_DEPS): $(WEB_UI)/package.json $(WEB_UI_LOCK)
	@if [ -f "$(WEB_UI)/package-lock.json" ]; then \
	  echo "web-ui: npm ci"; \
	  cd $(WEB_UI) && npm ci --no-audit --no-fund --loglevel=error; \
	else \
	  echo "web-ui: WARNING no package-lock.json, falling back to npm install (commit the lockfile)"; \
	  cd $(WEB_UI) && npm install --no-audit --no-fund --loglevel=error; \
	fi
	@mkdir -p $(@D) && touch $@

ifneq ($(HAVE_WEB_UI),)
web-ui-deps: $(WEB_UI_DEPS) ## Install web-ui node_modules (npm ci) when outdated
web-ui-build: web-ui-deps ## Build the web console (npm run build)
	@echo "web-ui: npm run build"
	@cd $(WEB_UI) && npm run build
else
web-ui-deps web-ui-build:
	@:
endif

# Translations (docs/i18n.md): locale/<lang>/LC_MESSAGES/django.po compiled to django.mo by Babel (pinned in
# requirements.txt, pure Python: a fresh machine has no GNU msgfmt). `make run` and `make test` both compile; the .mo
# files are committed too (tests/test_i18n.py checks they match the .po files), so a checkout serves Chinese as it is.
BABEL       := $(VENV)/bin/pybabel
I18N_KEYWORDS := -k gettext_lazy -k gettext_noop -k pgettext:1c,2 -k pgettext_lazy:1c,2 -k ngettext_lazy:1,2

locale: $(RUN_STAMP) ## Compile the translation catalogs (locale/*/LC_MESSAGES/django.po -> .mo) with Babel
	@"$(BABEL)" --quiet compile --domain django --directory locale --statistics

messages: $(RUN_STAMP) ## Re-extract translatable messages into locale/*/LC_MESSAGES/django.po (then translate; make locale)
	@mkdir -p var
	@"$(BABEL)" --quiet extract -F babel.cfg $(I18N_KEYWORDS) --project DJS --copyright-holder "DJS authors" \
	  --add-location file --sort-by-file -o var/django.pot apps djs_platform rpc
	@"$(BABEL)" update --input-file var/django.pot --output-dir locale --domain django --ignore-obsolete \
	  --previous
	@echo "messages: new or changed messages have an empty (or fuzzy) msgstr in locale/zh_Hans/LC_MESSAGES/django.po:"\
	  "translate them, drop the fuzzy flags, then make locale"

test-python: $(VENV_STAMP)
	@"$(PY)" scripts/run_tests.py $(TEST_ARGS)

test-web-ui: web-ui-deps
ifneq ($(and $(HAVE_WEB_UI),$(strip $(WEB_UI_TEST_CMD))),)
	@echo "web-ui: $(WEB_UI_TEST_CMD)"
	@$(WEB_UI_TEST_CMD)
else
	@:
endif

# The console's API types (web-ui/src/api/schema.gen.ts) are generated from the OpenAPI schema (`manage.py
# spectacular` -> openapi-typescript, scripts/gen_schema_ts.py; docs/console.md "API types are generated").
# `make test` runs schema-check: it fails, with the diff, while the committed file differs from a regeneration.
.PHONY: schema-ts schema-check
schema-ts: $(VENV_STAMP) web-ui-deps ## Regenerate web-ui/src/api/schema.gen.ts from the OpenAPI schema
	@"$(PY)" scripts/gen_schema_ts.py

schema-check: $(VENV_STAMP) web-ui-deps ## Fail (with a diff) if web-ui/src/api/schema.gen.ts is not what the serializers generate
	@"$(PY)" scripts/gen_schema_ts.py --check

test: system-deps $(VENV_STAMP) locale web-ui-deps schema-check web-ui-build test-web-ui test-python ## System deps + venv + console build and unit tests + both test passes (TEST_ARGS=...)

# `make run` on a bare machine: as root it first installs the few Debian packages the MySQL driver needs
# (scripts/ensure_system_deps.sh run); as a non-root user without them it still starts the embedded SQLite
# profile (scripts/mysql_driver.py installs the driver only where it can be built or is needed).
# DJS_DEBUG defaults to true (embedded dev profile: SQLite, no Redis needed) unless already set.
run: system-deps-run $(RUN_STAMP) mysql-driver locale web-ui-build ## Install what is missing, migrate, bootstrap and start the platform (web :9088, gRPC :9090, scheduler)
	@export DJS_DEBUG="$${DJS_DEBUG:-true}"; \
	"$(PY)" manage.py migrate --noinput; \
	"$(PY)" manage.py bootstrap; \
	exec "$(PY)" manage.py runplatform

system-deps-run:
	@scripts/ensure_system_deps.sh run

mysql-driver: $(RUN_STAMP)
	@"$(PY)" scripts/mysql_driver.py

check-fresh: ## Prove `make run` on a fresh clone as an unprivileged user without MySQL build tools (not part of make test)
	@scripts/check_fresh.sh

# Deeper versions of two suites that `make test` runs short (both backends, same services).
fuzz: system-deps $(VENV_STAMP) ## API fuzzing, deep: 500 Schemathesis examples per operation and actor + invalid mutations
	@DJS_TEST_FUZZ_EXAMPLES=500 "$(PY)" scripts/run_tests.py tests/test_fuzz_api.py $(TEST_ARGS)

soak: system-deps $(VENV_STAMP) ## Load: 200 API clients for 60 s against gunicorn while the scheduler runs 300 fires/s
	@DJS_TEST_SOAK_SECONDS=60 DJS_TEST_SOAK_FIRES=300 DJS_TEST_SOAK_CLIENTS=200 DJS_TEST_SOAK_ASSERT_LAG=1 \
	  "$(PY)" scripts/run_tests.py tests/test_soak.py -s $(TEST_ARGS)

crash-cluster: system-deps $(VENV_STAMP) ## kill -9 cluster test 10 times in a row on MariaDB, detached (log under var/test-results/)
	@mkdir -p var/test-results; log="var/test-results/crash-cluster-$$(date +%Y%m%d-%H%M%S).log"; \
	nohup sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do echo "== run $$i of 10 $$(date +%T)"; \
	  DJS_TEST_PROCESS_WORKERS=1 "$(PY)" scripts/run_tests.py --only mariadb tests/test_crash_cluster.py -s \
	  || { echo "== run $$i FAILED"; exit 1; }; done; echo "== 10 of 10 runs passed $$(date +%T)"' \
	  > "$$log" 2>&1 < /dev/null & \
	echo "crash-cluster: running detached (pid $$!), log $$log"

# Benchmarks (bench/): the peers' packages (APScheduler, Celery, django-celery-beat) live in
# requirements-bench.txt, installed into the same venv only when a bench target runs.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(VENV_STAMP) requirements-bench.txt
	@echo "venv: installing requirements-bench.txt"
	@"$(PY)" -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	@touch $@

bench-deps: system-deps $(BENCH_STAMP)

bench: bench-deps ## Side-by-side benchmark vs APScheduler and Celery beat + REST API under wrk (~35 min)
	@"$(PY)" bench/run.py
	@"$(PY)" bench/rest_api.py

bench-quick: bench-deps ## The same, short windows and fewer steps (a few minutes)
	@"$(PY)" bench/run.py --quick
	@"$(PY)" bench/rest_api.py --quick

# Detached (nohup): the run takes up to an hour and outlives the terminal. BENCH_ARGS="--reuse DIR --sizes ..."
bench-console: $(VENV_STAMP) web-ui-build ## Console bytes and render times in headless Chromium (bench/console.py)
	@"$(PY)" bench/console.py $(BENCH_ARGS)

bench-records: bench-deps ## Record reads at 100k/1M/10M records, detached, log under bench/results/ (< 60 min)
	@mkdir -p bench/results; log="bench/results/records_scale-$$(date +%Y%m%d-%H%M%S).log"; \
	nohup "$(PY)" -u bench/records_scale.py $(BENCH_ARGS) > "$$log" 2>&1 < /dev/null & \
	echo "bench-records: running detached (pid $$!), log $$log"; \
	echo "follow it with: tail -f $$log   (the last lines hold the table and the JSON path)"

lint: $(VENV_STAMP) ## Static checks (ruff if installed in the venv, else a syntax check)
	@if [ -x "$(VENV)/bin/ruff" ]; then \
	  "$(VENV)/bin/ruff" check .; \
	else \
	  echo "lint: ruff not installed in $(VENV); running a syntax check only"; \
	  git ls-files -co --exclude-standard -- '*.py' | PYTHONDONTWRITEBYTECODE=1 xargs -r "$(PY)" -c \
	    'import ast, sys; [ast.parse(open(f, "rb").read(), f) for f in sys.argv[1:]]'; \
	fi

clean: ## Remove test results (never the venv)
	rm -rf var/test-results
