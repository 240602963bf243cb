# Fresh machine with only Python: `make run` or `make test` set everything up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= $(or $(ECGSCOPE_DATA_DIR),../shared/data)
export ECGSCOPE_DATA_DIR := $(abspath $(DATA))

HOST   ?= 127.0.0.1
PORT   ?= 8000
# the dashboard is rebuilt when any of its sources is newer than the build
WEB_SRC  := $(shell find web/src -type f 2>/dev/null) web/index.html web/package.json web/package-lock.json web/vite.config.js
WEB_DIST := web/dist/index.html

.PHONY: install run test lint clean-venv web browser-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# the CPU wheel first and pinned: a loose torch requirement would pull CUDA builds
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[all,dev]'
	@$(PY) -c "import torch, sys; v = torch.__version__; sys.exit(0 if v.endswith('+cpu') or not torch.cuda.is_available() else 'CUDA torch was installed: ' + v)"
	@touch $(STAMP)

install: $(STAMP)

$(WEB_DIST): $(WEB_SRC)
	@command -v npm >/dev/null || { echo "error: npm (node >= 20) is needed to build the dashboard in web/" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build
	@touch $(WEB_DIST)

web: $(WEB_DIST)

# headless Chromium and pdftoppm for the browser and PDF tests (Debian packages; installed when root)
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null; \
	  else \
	    echo "warning: chromium/pdftoppm are missing and this is not root: run 'sudo apt-get install -y chromium poppler-utils'; the browser and PDF tests will fail until then" >&2; \
	  fi; \
	fi

# the server with the dashboard, a demo user and example records (seeded into an empty database)
run: install web
	$(BIN)/ecgscope serve --seed-examples --data-dir $(DATA) --state-dir var --host $(HOST) --port $(PORT)

test: install web browser-deps
	$(PY) -m pytest -n 2 --dist loadgroup --durations=15

lint: install
	$(BIN)/ruff check src tests benchmarks

clean-venv:
	rm -rf $(VENV)
