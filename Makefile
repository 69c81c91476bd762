# Two commands for a fresh machine: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint format setup viewer

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s)" % sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The viewer's JavaScript (frontend/viewer/), built by Vite into frontend/static/frontend/dist/.
VIEWER := frontend/static/frontend/dist/.built
VIEWER_SOURCES := $(wildcard frontend/viewer/*.js frontend/viewer/*.css frontend/viewer/*/*.js)

$(VIEWER): frontend/package.json frontend/package-lock.json frontend/vite.config.js $(VIEWER_SOURCES)
	@command -v npm >/dev/null || { echo "Node.js 20.19+ and npm are needed to build the viewer"; exit 1; }
	cd frontend && npm ci --no-audit --no-fund && npm run build
	touch $(VIEWER)

viewer: $(VIEWER)

setup: $(STAMP) $(VIEWER)

run: $(STAMP) $(VIEWER)
	$(BIN)/python manage.py portal_run

test: $(STAMP) $(VIEWER)
	$(BIN)/python -m pytest

# Every benchmark in turn (`make bench BENCHMARKS=send` runs one); each prints its figures.
BENCHMARKS ?= ingest worklist send dicomweb viewer share-zip query retrieve

bench: $(STAMP) $(VIEWER)
	@set -e; for benchmark in $(BENCHMARKS); do \
	  echo "== python -m bench $$benchmark"; $(BIN)/python -m bench $$benchmark; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
