# Marketplace observability stack. `make` alone lists the targets.
SHELL        := /bin/bash
PYTHON_BASE  ?= python3
VENV         ?= .venv
PY           := $(VENV)/bin/python
MODE         ?= auto
VARIANT      ?= v2
SEVERITY     ?= critical
PYTEST_ARGS  ?=
SLO_ARGS     ?=

.DEFAULT_GOAL := help
.PHONY: help install lint test test-unit test-integration test-stack run catalog bench \
        up down status ps logs clean verify drill slo-report

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-17s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON_BASE) -m venv $(VENV)

install: $(PY) ## create .venv with the service, the alert sink and the dev tools
	$(PY) -m pip install -q -e ./service -e ./alertsink -r requirements-dev.txt

lint: ## ruff, promtool check config/rules, amtool check-config
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	promtool check config prometheus/prometheus.yml
	promtool check rules prometheus/rules/*.yml
	amtool check-config alertmanager/alertmanager.yml

test: ## every test that runs without Docker (unit, rules, contract, integration)
	$(PY) -m pytest -m "not stack" $(PYTEST_ARGS)

test-unit: ## the fast tests only (no stack is started)
	$(PY) -m pytest -m "not stack and not integration" $(PYTEST_ARGS)

test-integration: ## the native-stack integration tests only
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

test-stack: ## tests against a running compose stack (hosts from the environment)
	$(PY) -m pytest -m stack tests/stack $(PYTEST_ARGS)

run: ## run one marketplace variant alone (VARIANT=v1|v2)
	MARKETPLACE_VARIANT=$(VARIANT) $(PY) -m marketplace

catalog: ## write a synthetic catalog: make catalog SIZE=10000 OUT=catalog.ttl
	$(PY) -m marketplace.catalog.generate --size $(or $(SIZE),1000) --out $(or $(OUT),catalog-$(or $(SIZE),1000).ttl)

bench: ## benchmark v2/v1/bare at 10,000 packages; writes bench-results.json
	$(PY) -m ops.bench

up: ## start the stack: compose when a Docker engine answers, else native (MODE=native|docker)
	$(PY) -m ops.stack up --mode $(MODE)

down: ## stop the stack
	$(PY) -m ops.stack down --mode $(MODE)

status: ## what is running
	$(PY) -m ops.stack status --mode $(MODE)

ps: status ## alias of status

logs: ## follow the logs
	$(PY) -m ops.stack logs --mode $(MODE)

clean: ## stop the stack and remove its data (compose volumes, .run/)
	$(PY) -m ops.stack clean --mode $(MODE)

verify: ## the deployment checklist as checks (✓/✗ table)
	$(PY) -m ops.verify

drill: ## send a synthetic alert and time its delivery (SEVERITY=critical|warning|info)
	$(PY) -m ops.drill --severity $(SEVERITY)

slo-report: ## the weekly SLO review (SLO_ARGS="--format markdown", "--png budget.png")
	$(PY) -m ops.slo_report $(SLO_ARGS)
