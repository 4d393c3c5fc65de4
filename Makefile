PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
# The stream process (Procfile `stream`, uvicorn) listens here: GET /v1/app/stream.
STREAM_PORT ?= $(shell echo $$(($(PORT) + 1)))
# make test always runs against real PostgreSQL and Redis (never SQLite).
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/kilopush)
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/9)

.PHONY: install migrate run test bench chaos clean chromium screenshots messages gettext

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# The translations (docs/translating.md): locale/LANG/LC_MESSAGES/*.po are compiled here, never committed as .mo.
# GNU msgfmt checks the placeholders too; without it (no root on a fresh machine) polib compiles them.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))

locale/%.mo: locale/%.po | $(STAMP)
	@if command -v msgfmt >/dev/null; then msgfmt --check-format -o $@ $<; else $(BIN)/python -m kilopush.msgfmt $< $@; fi

install: $(STAMP) $(MO_FILES)

# After changing texts: the catalogs of every language take the new and changed strings (then translate them).
messages: install gettext
	$(BIN)/python manage.py makemessages --all --no-location --no-obsolete --ignore=.venv --ignore=var --ignore=tests --ignore=bench
	$(BIN)/python manage.py makemessages --all --no-location --no-obsolete -d djangojs --ignore=.venv --ignore=var --ignore=tests \
		--ignore=bench --ignore='webapp/static/webapp/vendor/*'

# xgettext and msgfmt (GNU gettext): makemessages needs them, and so does the test that every string is translated.
gettext:
	command -v xgettext >/dev/null || apt-get install -y gettext || (apt-get update && apt-get install -y gettext)

migrate: install
	$(BIN)/python manage.py migrate --noinput

# make run starts the metric files afresh (prometheus_client multiprocess mode: one file per process).
# kilopush/ready.py prints "KILO.Push is running: open http://127.0.0.1:PORT/" once the web answers; honcho
# replaces the shell (exec), so it is the watcher's parent and the watcher leaves with it.
run: migrate
	rm -rf "$${PROMETHEUS_MULTIPROC_DIR:-$${KILOPUSH_VAR_DIR:-$(CURDIR)/var}/prometheus}"
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python -m kilopush.ready $(PORT) & \
	PORT=$(PORT) WEB_PORT=$(PORT) STREAM_PORT=$(STREAM_PORT) PATH=$(CURDIR)/$(BIN):$$PATH exec $(BIN)/honcho start -f Procfile

# The browser tests (tests/web) drive Debian's chromium; Playwright never downloads a browser.
chromium:
	command -v chromium >/dev/null || (apt-get install -y chromium || (apt-get update && apt-get install -y chromium))

test: install chromium gettext
	test -x /usr/sbin/nginx || apt-get install -y nginx-light || (apt-get update && apt-get install -y nginx-light)
	test -x /usr/sbin/pgbouncer || apt-get install -y pgbouncer || (apt-get update && apt-get install -y pgbouncer)
	$(BIN)/lint-imports --no-cache  # the layers of pyproject.toml ([tool.importlinter]); README "Layers"
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

# Fault tests, long versions (docs/security.md, "Faults"): bigger bursts, minutes-long outages, production intervals.
chaos: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) KILOPUSH_CHAOS=1 \
		$(BIN)/python -m pytest -p tests.chaos_report tests/faults/test_faults_*.py $(PYTEST_ARGS)

# Every screen of the web app at 360x740 and 1280x800, light and dark, into var/screenshots/.
screenshots: install chromium
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -m screenshots tests/web/test_screenshots.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var locale/*/LC_MESSAGES/*.mo

# Benchmarks (not tests): see docs/benchmarks.md. Needs PostgreSQL, Redis and wrk.
bench: install
	command -v wrk >/dev/null || (apt-get install -y wrk || (apt-get update && apt-get install -y wrk))
	$(BIN)/python -m bench.run $(BENCH_ARGS)
