# Local entry points; .ci/run calls `make test`. Recipes use TABs.
.DEFAULT_GOAL := test
.PHONY: venv services lint test demo browser ssh-keygen clean-venv

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

test: venv services lint browser ssh-keygen
	$(CHECK_ENV) $(BIN)/pytest -n 2

# The browser tests drive Debian's chromium (never a downloaded browser).
browser:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y --no-install-recommends chromium)

# OpenSSH's ssh-keygen checks envelope key ids independently (tests/core/test_dsse.py).
ssh-keygen:
	test -x /usr/bin/ssh-keygen || (apt-get update && apt-get install -y --no-install-recommends openssh-client)

# The embedded demo: its own Postgres in .pgdata/ and eager tasks (no DATABASE_URL, no broker).
# `demo` loads provenance/samples/, signs them and prints the demo users' passwords.
DEMO_ENV = DATABASE_URL= CELERY_BROKER_URL=
demo: venv
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py demo
	$(DEMO_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

clean-venv:
	rm -rf $(VENV)
