# Local entry points; .ci/run calls `make test`. Recipes use TABs.
.DEFAULT_GOAL := test
.PHONY: venv services lint test demo browser axe registry-tools prometheus oidc-provider clean-venv

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Tests and the mypy Django plugin (which loads settings) use the machine's Postgres unless told
# otherwise; plain `manage.py` without DATABASE_URL uses the embedded pgserver instead.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/chainsweb
CHECK_ENV = DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}"

# Reinstall only when a requirements file changes.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || \
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
			--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
		pg_isready -h 127.0.0.1 -p 5432
	@redis-cli -h 127.0.0.1 ping

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(CHECK_ENV) $(BIN)/mypy

test: venv services lint browser axe registry-tools prometheus oidc-provider
	$(CHECK_ENV) $(BIN)/pytest -n 2

# The browser tests drive Debian's chromium (never a downloaded browser).
browser:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y --no-install-recommends chromium)

# The browser tests check every page with axe-core (tests/browser/axe), installed from its lockfile
# like the OIDC provider below, again only when the lockfile changes.
axe: tests/browser/axe/node_modules/.installed
tests/browser/axe/node_modules/.installed: tests/browser/axe/package-lock.json
	command -v npm >/dev/null || (apt-get update && apt-get install -y --no-install-recommends nodejs npm)
	cd tests/browser/axe && npm ci --prefer-offline --no-audit --no-fund
	touch $@

# The OCI publishing tests run Debian's docker-registry (the CNCF distribution registry), read
# back with skopeo, with htpasswd (apache2-utils) for basic auth; the key tests and the DSSE key id
# tests (tests/core/test_dsse.py) check fingerprints with OpenSSH's ssh-keygen.
REGISTRY_TOOLS := /usr/bin/docker-registry /usr/bin/skopeo /usr/bin/htpasswd /usr/bin/ssh-keygen
registry-tools:
	@missing=""; for f in $(REGISTRY_TOOLS); do test -x $$f || missing=1; done; \
	test -z "$$missing" || (apt-get update && apt-get install -y --no-install-recommends \
		docker-registry skopeo apache2-utils openssh-client)

# Metrics tests check the exposition with promtool and scrape it with a real Prometheus (Debian's
# package; RUNLEVEL=1 keeps its service from starting where an init system would start it).
prometheus:
	command -v promtool >/dev/null && command -v prometheus >/dev/null || \
		(apt-get update && RUNLEVEL=1 apt-get install -y --no-install-recommends prometheus)

# Single sign-on tests run a real OpenID Provider (tests/oidc: oidc-provider on Node.js), installed
# from its lockfile; again only when the lockfile changes.
oidc-provider: tests/oidc/node_modules/.installed
tests/oidc/node_modules/.installed: tests/oidc/package-lock.json
	command -v npm >/dev/null || (apt-get update && apt-get install -y --no-install-recommends nodejs npm)
	cd tests/oidc && npm ci --prefer-offline --no-audit --no-fund
	touch $@

# The embedded demo: its own Postgres in .pgdata/ and eager tasks (no DATABASE_URL, no broker).
# `demo` loads provenance/samples/, signs them and prints the demo users' passwords.
DEMO_ENV = DATABASE_URL= CELERY_BROKER_URL=
demo: venv
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py demo
	$(DEMO_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

clean-venv:
	rm -rf $(VENV)
