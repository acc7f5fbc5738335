# Marketplace observability stack. `make` alone lists the targets.
SHELL        := /bin/bash
PYTHON_BASE  ?= python3
VENV         ?= .venv
PY           := $(VENV)/bin/python
# The environment is built once and again only when a dependency list changes; every target that
# runs $(PY) lists $(VENV_READY) as a prerequisite, so it works on a fresh clone.
VENV_READY   := $(VENV)/.installed
VENV_DEPS    := service/pyproject.toml alertsink/pyproject.toml requirements-dev.txt
MODE         ?= auto
VARIANT      ?= v2
SEVERITY     ?= critical
PYTEST_ARGS  ?=
SLO_ARGS     ?=

.DEFAULT_GOAL := help
.PHONY: help install lint test test-binaries test-unit test-integration test-stack run catalog bench \
        up down status ps logs clean verify drill slo-report mutate soak k8s

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-17s %s\n", $$1, $$2}'

$(VENV_READY): $(VENV_DEPS)
	@test -x $(PY) || $(PYTHON_BASE) -m venv $(VENV) || \
	  { echo "could not create $(VENV): on Debian/Ubuntu apt-get install python3-venv" >&2; exit 1; }
	$(PY) -m pip install -q -e ./service -e ./alertsink -r requirements-dev.txt
	@touch $@

install: $(VENV_READY) ## optional: build .venv (service, alert sink, dev tools); other targets do it too

lint: $(VENV_READY) ## ruff, promtool check config/rules, amtool check-config
	@.ci/require-binaries promtool amtool
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	promtool check config prometheus/prometheus.yml
	promtool check rules prometheus/rules/*.yml
	amtool check-config alertmanager/alertmanager.yml

# The binary check comes first, so that a missing binary is the first line and nothing was built.
test: test-binaries $(VENV_READY) ## every test that runs without Docker (unit, rules, contract, integration)
	$(PY) -m pytest -m "not stack" $(PYTEST_ARGS)

test-binaries: ## check the binaries `make test` runs; as root on Debian/Ubuntu, apt-get them
	@.ci/require-binaries

test-unit: $(VENV_READY) ## the fast tests only (no stack is started)
	$(PY) -m pytest -m "not stack and not integration" $(PYTEST_ARGS)

test-integration: test-binaries $(VENV_READY) ## the native-stack integration tests only
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

test-stack: $(VENV_READY) ## tests against a running compose stack (hosts from the environment)
	$(PY) -m pytest -m stack tests/stack $(PYTEST_ARGS)

run: $(VENV_READY) ## run one marketplace variant alone (VARIANT=v1|v2)
	MARKETPLACE_VARIANT=$(VARIANT) $(PY) -m marketplace

catalog: $(VENV_READY) ## write a synthetic catalog: make catalog SIZE=10000 OUT=catalog.ttl
	$(PY) -m marketplace.catalog.generate --size $(or $(SIZE),1000) --out $(or $(OUT),catalog-$(or $(SIZE),1000).ttl)

bench: $(VENV_READY) ## issue-10 targets and per-signal costs at 10,000 packages (~6 min; uses wrk when installed); writes bench-results.json
	$(PY) -m ops.bench

soak: $(VENV_READY) ## v2 at full load, every fault in turn; resource growth and 5xx (DURATION=10m)
	$(PY) -m ops.soak --duration $(or $(DURATION),10m)

up: $(VENV_READY) ## start the stack: compose when a Docker engine answers, else native (MODE=native|docker)
	$(PY) -m ops.stack up --mode $(MODE)

down: $(VENV_READY) ## stop the stack
	$(PY) -m ops.stack down --mode $(MODE)

status: $(VENV_READY) ## what is running
	$(PY) -m ops.stack status --mode $(MODE)

ps: status ## alias of status

logs: $(VENV_READY) ## follow the logs
	$(PY) -m ops.stack logs --mode $(MODE)

clean: $(VENV_READY) ## stop the stack and remove its data (compose volumes, .run/)
	$(PY) -m ops.stack clean --mode $(MODE)

verify: $(VENV_READY) ## the deployment checklist as checks (✓/✗ table)
	$(PY) -m ops.checks verify

drill: $(VENV_READY) ## send a synthetic alert and time its delivery (SEVERITY=critical|warning|info)
	$(PY) -m ops.checks drill --severity $(SEVERITY)

slo-report: $(VENV_READY) ## the weekly SLO review (SLO_ARGS="--format markdown", "--png budget.png")
	$(PY) -m ops.slo $(SLO_ARGS)

k8s: $(VENV_READY) ## regenerate deploy/ (PrometheusRules, dashboards, Alertmanager, values) from the compose files
	$(PY) -m ops.k8s

# mutmut runs on a copy in .run/mutate (pyproject.toml [tool.mutmut] says why); the run stops
# after MUTATE_SECONDS (default 2400) and reports what it finished. Not part of CI.
mutate: $(VENV_READY) ## mutation testing (mutmut) of the service's metrics, logs, api and stores
	rm -rf .run/mutate && mkdir -p .run/mutate
	cp -r service/marketplace .run/mutate/marketplace
	cp -r tests service ops pyproject.toml .env .run/mutate/
	cd .run/mutate && mutmut=$(abspath $(VENV))/bin/mutmut; \
	  timeout -s INT $(or $(MUTATE_SECONDS),2400) $$mutmut run --max-children $(or $(MUTATE_JOBS),2); \
	  status=$$?; [ $$status -eq 0 ] || [ $$status -eq 124 ] || exit $$status; \
	  $$mutmut results; $$mutmut export-cicd-stats && cat mutants/mutmut-cicd-stats.json; \
	  [ $$status -eq 0 ] || echo "stopped after $(or $(MUTATE_SECONDS),2400) s: partial counts"
