# Fresh machine with only Python: `make run` or `make test` set everything up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= $(or $(ECGSCOPE_DATA_DIR),../shared/data)
export ECGSCOPE_DATA_DIR := $(abspath $(DATA))

.PHONY: install run test lint clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# the CPU wheel first and pinned: a loose torch requirement would pull CUDA builds
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[all,dev]'
	@$(PY) -c "import torch, sys; v = torch.__version__; sys.exit(0 if v.endswith('+cpu') or not torch.cuda.is_available() else 'CUDA torch was installed: ' + v)"
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/ecgscope info $(DATA)/ptbxl/records500/00000/00002_hr $(DATA)/cinc2017/A00006.hea $(DATA)/mitdb/100

test: install
	$(PY) -m pytest -n 2 --durations=15

lint: install
	$(BIN)/ruff check src tests benchmarks

clean-venv:
	rm -rf $(VENV)
