# pipeline-infra: `make help` lists the targets. `make all` is what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# ENV given on the command line (or in the environment) selects one environment; `make synth`
# without it synthesizes every environment, every other target defaults to dev.
ENV_GIVEN := $(filter command line environment,$(origin ENV))
ENV ?= dev
# Every environment, from infra/model/envs.py, the one list synth, the policy gate and CI read.
# Standard library only, so the system interpreter serves before .venv exists; a model that
# cannot load is one line and make stops (FAILED is never an env name: those are lowercase).
override ENVS := $(shell PYTHONPATH='$(CURDIR)' PYTHONDONTWRITEBYTECODE=1 $(if $(wildcard $(PY)),$(PY),$(PYTHON)) -m infra.cli envs 2>&1 || echo FAILED)
ifneq ($(filter FAILED,$(ENVS)),)
$(error $(or $(filter-out FAILED,$(ENVS)),python -m infra.cli envs failed))
endif
STACKS := $(foreach e,$(ENVS),cdktf.out/stacks/pipeline-$(e))
STACK := cdktf.out/stacks/pipeline-$(ENV)

# One check of ENV, before any recipe runs, by the code every `python -m` command uses
# (infra.model.envs.unknown_env): an unknown env is one line, make exits 2, nothing runs.
# The interpreter may be the system one: the check needs only the standard library.
ENV_GOALS := synth plan apply drift inventory adopt verify local-up reconcile preflight drill
ifneq ($(filter command line,$(origin ENV))$(filter $(ENV_GOALS),$(MAKECMDGOALS)),)
ENV_ERROR := $(shell PYTHONPATH='$(CURDIR)' $(if $(wildcard $(PY)),$(PY),$(PYTHON)) -m infra.cli check-env '$(ENV)' 2>&1 >/dev/null)
ifneq ($(ENV_ERROR),)
$(error $(ENV_ERROR))
endif
endif

# GNU make exits 2 whenever a recipe fails, whatever the command's own exit code. Commands
# whose code means something (README, "Exit codes") also leave it in a file: `1` before the
# command starts ("could not run"), its own code when it ends, so a refused or killed run
# never leaves an earlier success behind. plan, apply and drift write theirs themselves.
define recorded
@mkdir -p $(dir $(2)) && echo 1 > $(2); $(1); code=$$?; echo $$code > $(2); exit $$code
endef

# jsii on Node 20 prints an end-of-life banner; CDK Terrain's telemetry stays off.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1
# An empty CLI config: no warning about a missing file, no stray credentials helper.
export TF_CLI_CONFIG_FILE := $(CURDIR)/infra/terraform/terraformrc
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help all setup synth synth-all test unit lint format policy check-functions plan apply drift \
	inventory adopt preflight verify local-up local-down local-demo local-status reconcile bench docs clean \
	test-functions drill

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		sed -e 's|$$(STACK)|$(dir $(STACK))pipeline-ENV|g' -e 's|$$(\([A-Za-z_]*\))|\1|g' | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

all: test ## What CI runs (same as test)

$(STAMP): pyproject.toml
	@echo "setup: creating $(VENV) and installing pipeline-infra[dev] (first run takes ~1 min)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -qq --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -qq --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)
	@echo "setup: done"

setup: $(STAMP) ## Create .venv and install dependencies (idempotent, instant when current)

$(CHECKOV_STAMP): iam/requirements-checkov.txt
	@echo "setup: installing checkov into $(CHECKOV_VENV) (its pins conflict with the main venv)"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/pip install -qq --disable-pip-version-check -r iam/requirements-checkov.txt
	@touch $(CHECKOV_STAMP)

synth: $(STAMP) ## Synthesize every stack (or only ENV=…) into cdktf.out/, print a summary
	@$(PY) -m infra.main $(if $(ENV_GIVEN),--env $(ENV))

synth-all: $(STAMP)
	@$(PY) -m infra.main

docs: $(STAMP) ## Regenerate the README pipeline table and diagram from the manifest
	@$(PY) -m infra.synth.docs README.md --write

lint: $(STAMP) ## ruff, mypy --strict, import-linter (layers, no cycles), zizmor, workflow schema
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy
	@$(VENV)/bin/lint-imports --no-cache --no-logo
	@# Every finding above informational fails the build (the pedantic persona's
	@# informational notes are shown by `zizmor --persona pedantic`).
	@$(VENV)/bin/zizmor --offline --quiet --min-severity low .github/workflows
	@$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

format: $(STAMP) ## ruff check --fix (safe autofixes)
	@$(VENV)/bin/ruff check --fix .

unit: $(STAMP) ## Unit tests only (synthesized JSON, manifest, policy, lifecycle)
	@$(VENV)/bin/pytest -q -m "not integration and not emulator"

# The independent steps of `test` run three at a time: checkov's install (it mostly waits on
# pip) beside lint, synthesis (CPU) and the startup proof (pip again), each after the main
# venv, and the policy gate as soon as the stacks are synthesized and checkov is installed;
# then every test.
POLICY = $(call recorded,$(PY) -m iam.report $(STACKS) --markdown-out cdktf.out/policy.md,cdktf.out/policy.exitcode)

test: ## Lint, synth, policy, startup proof, every test (the drills too)
	@$(MAKE) --no-print-directory -j3 lint check-functions policy
	@$(VENV)/bin/pytest -q

policy: synth-all $(CHECKOV_STAMP) ## Policy gate over every stack (+ cdktf.out/policy.md, policy.exitcode)
	$(POLICY)

check-functions: $(STAMP) ## Prove each function bundle installs, imports and listens on PORT
	@$(PY) -m infra.synth.check_functions $(NAMES)

plan: $(STAMP) ## terraform plan for ENV: refusals, preflight (APIs, secret), synth, plan
	@$(PY) -m infra.tf plan --env $(ENV) --preflight --synth

preflight: $(STAMP) ## What the first plan needs (APIs, the secret), from the recorded inventory of ENV
	$(call recorded,$(PY) -m infra.live.preflight --env $(ENV),$(STACK)/preflight.exitcode)

apply: $(STAMP) ## Apply exactly the plan saved by `make plan` for ENV
	@$(PY) -m infra.tf apply --env $(ENV)

drift: $(STAMP) ## Refresh-only plan for ENV and the drift review (code in $(STACK)/drift.exitcode)
	@$(PY) -m infra.tf drift --env $(ENV) --synth

inventory: $(STAMP) ## Record ENV's live resources and build triggers into infra/adoption/
	@$(PY) -m infra.live.inventory --env $(ENV)

INVENTORY ?= infra/adoption/$(ENV).inventory.json
TRIGGERS ?= infra/adoption/$(ENV).triggers.json
ADOPTION_DIR ?= infra/adoption
# adopt.exitcode says `1` from before the synthesis, so a failed synth never leaves an earlier
# code behind; then 0 adoptable, 2 findings, 3 blocked, 1 unreadable input. ADOPT_SYNTH is the
# synthesis step (the tests of this recipe replace it with `true`/`false` around a stack they
# synthesized once).
ADOPT_SYNTH ?= $(MAKE) --no-print-directory synth
adopt: $(STAMP) ## Synth, match INVENTORY (+TRIGGERS) to ENV's stack, write infra/adoption/ENV.json; exit 2 findings, 3 blocked (in $(STACK)/adopt.exitcode)
	@mkdir -p $(STACK) && echo 1 > $(STACK)/adopt.exitcode
	@$(ADOPT_SYNTH)
	$(call recorded,$(PY) -m infra.adopt --env $(ENV) --inventory $(INVENTORY) $(if $(wildcard $(TRIGGERS)),--triggers $(TRIGGERS)) --adoption-dir $(ADOPTION_DIR),$(STACK)/adopt.exitcode)

verify: $(STAMP) ## Check the live project's edges and IAM against the manifest (ENV)
	$(call recorded,$(PY) -m infra.verify --env $(ENV),$(STACK)/verify.exitcode)

local-up: $(STAMP) ## Run the synthesized ENV stack on the Pub/Sub + Firestore emulators
	@$(PY) -m infra.local up --env $(ENV)

local-down: $(STAMP) ## Stop everything local-up started
	@$(PY) -m infra.local down

local-demo: $(STAMP) ## Drive one game day through the local pipeline and print a timeline
	@$(PY) -m infra.local demo

local-status: $(STAMP) ## What the local pipeline runs, and whether each front listens
	@$(PY) -m infra.local status

DRILLS ?=
drill: synth ## Synthesize, then re-enact each outage class on its own emulators (DRILLS="a b" for some); table, .local/drills.json
	@$(PY) -m infra.local drill --env $(ENV) $(DRILLS)

reconcile: $(STAMP) ## Report (FIX=1: repair) completion summaries START..END (dates) for ENV
	@test -n "$(START)" -a -n "$(END)" || { echo "reconcile: set START=YYYY-MM-DD END=YYYY-MM-DD"; exit 2; }
	@$(PY) -m infra.function_config --env $(ENV) --function pipeline-canary -- \
		$(PY) -m functions.pipeline_canary.reconcile --start $(START) --end $(END) $(if $(FIX),--fix,)

test-functions: $(STAMP) ## Function tests on the official emulators
	@$(VENV)/bin/pytest -q tests/functions

bench: $(STAMP) ## Benchmarks: synth time vs floor, orchestrator latency vs emulator
	@$(PY) bench/synth.py
	@$(PY) bench/orchestrator.py

clean: ## Remove generated folders (keeps .venv)
	rm -rf cdktf.out .build .local .pytest_cache .ruff_cache
