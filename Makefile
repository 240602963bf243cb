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

.PHONY: install run test lint clean-venv web browser-deps models models-17-12lead models-17-1lead models-af-1lead models-benchmark

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

# headless Chromium and pdftoppm for the browser and PDF tests, PostgreSQL for the server's database test
# (Debian packages; installed when root)
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils postgresql >/dev/null; \
	  else \
	    echo "warning: chromium/pdftoppm/postgresql are missing and this is not root: run 'sudo apt-get install -y chromium poppler-utils postgresql'; the browser, PDF and PostgreSQL tests will fail or skip until then" >&2; \
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

# The shipped default models (docs/models.md): one training and one packaging command each, on the CPU.
# A model's run folder is the one `make models-benchmark` writes for that seed, so packaging reuses a finished
# run (its metrics.json exists) instead of training again.  SEED_* are the shipped seeds: the best validation
# macro AUROC among the seeds of benchmarks/shipped_models.py.  `make models-benchmark` trains three seeds of
# every shipped model and of its 1-D ResNet baseline and writes benchmarks/results/shipped_models.{json,md}.
MODEL_RUNS ?= runs/shipped
PRETRAINED := src/ecgscope/inference/pretrained
MODEL_VERSION := 0.3.0
MODEL_VERSION_1LEAD := 0.4.0
SEED_17_12LEAD ?= 1
SEED_17_1LEAD ?= 1
RUN_17_12LEAD := $(MODEL_RUNS)/ecgscope-17-12lead/seed$(SEED_17_12LEAD)
RUN_17_1LEAD := $(MODEL_RUNS)/ecgscope-17-1lead/seed$(SEED_17_1LEAD)
TRAIN_SHIPPED := nice -n 10 $(BIN)/ecgscope train --model resnet1d_small_hybrid --strategy finetune --epochs 8 \
	--threads 1 --no-progress --data-dir $(DATA)
PACKAGE := $(BIN)/ecgscope calibrate --data-dir $(DATA)
# the evidence combination of each package (docs/inference.md): fitted across sources on folds no part of the
# package was trained on (PTB-XL lends its validation fold 9; test folds never)
EVIDENCE := $(PY) -m ecgscope.train.evidence --data-dir $(DATA)
EVIDENCE_12LEAD := ptbxl100:9 ptbxl:9 ludb:1-9
EVIDENCE_1LEAD := ptbxl100:9 ptbxl:9 cinc2017:1-9 mitdb:1-9 ludb:1-9 cpsc2021:1-5
# the int8 network of each package: calibrated on training folds, shipped only if validation folds lose
# <= 0.002 macro AUROC (ecgscope.train.quantize)
QUANTIZE := $(PY) -m ecgscope.train.quantize --data-dir $(DATA)
# the 12-lead network also reads 500 Hz records through the 500 -> 100 Hz resampler: ranges from both
QUANTIZE_12LEAD := ptbxl100:9 ptbxl:9 --calibrate ptbxl100:1-8 ptbxl:1-8 --windows 1600
QUANTIZE_1LEAD := ptbxl100:9 ptbxl:9 cinc2017:9 --calibrate ptbxl100:1-8

$(RUN_17_12LEAD)/metrics.json: | $(STAMP)
	$(TRAIN_SHIPPED) --task ptbxl17 --input '12-lead 10 s' --seed $(SEED_17_12LEAD) --out $(RUN_17_12LEAD)

$(RUN_17_1LEAD)/metrics.json: | $(STAMP)
	$(TRAIN_SHIPPED) --task ptbxl17 --input 'single-lead 5 s' --seed $(SEED_17_1LEAD) --out $(RUN_17_1LEAD)

models-17-12lead: $(RUN_17_12LEAD)/metrics.json
	$(PACKAGE) $(RUN_17_12LEAD)/best.pt --task ptbxl17 --name ecgscope-17-12lead --version $(MODEL_VERSION) \
		--out $(PRETRAINED)/ecgscope-17-12lead \
		--description "The 17 labels from a 10-s 12-lead ECG (one window per record): a narrow 1-D ResNet with in-network signal-quality, lead-correlation and rhythm statistics (resnet1d_small_hybrid, docs/models.md). Seeds and the 1-D ResNet baseline side by side: benchmarks/results/shipped_models.md."
	$(EVIDENCE) --package $(PRETRAINED)/ecgscope-17-12lead --sources $(EVIDENCE_12LEAD)
	$(QUANTIZE) --package $(PRETRAINED)/ecgscope-17-12lead --validate $(QUANTIZE_12LEAD)

# the wearable model reads 5-s windows every 2.5 s, blends its record head (lead I's rhythm, PR, HR) and takes its
# Poor data quality threshold from handheld strips (CinC 2017 folds 1-9; docs/models.md)
models-17-1lead: $(RUN_17_1LEAD)/metrics.json
	$(PACKAGE) $(RUN_17_1LEAD)/best.pt --task ptbxl17 --name ecgscope-17-1lead --version $(MODEL_VERSION_1LEAD) \
		--record-head --window-stride 2.5 --quality-threshold-data cinc2017 \
		--out $(PRETRAINED)/ecgscope-17-1lead \
		--description "The 17 labels from a single-lead strip (lead I) for wearables: resnet1d_small_hybrid (docs/models.md) trained on 5-s windows of lead I of PTB-XL (copied into all 12 channels), read every 2.5 s, its logits blended with a record head over the whole strip (rhythm statistics, PR, QRS, QT, heart rate and quality from lead I's delineation). Seeds, ablations and the 1-D ResNet baseline: benchmarks/results/shipped_models.md." \
		--limits "$$(printf '%s\n%s' '- Trained on lead I of 12-lead clinical recordings; wearable leads differ in placement and noise. Findings that need the precordial leads (bundle branch blocks, infarction) are less reliable from one lead.' '- On handheld strips (CinC 2017, never seen by the network: benchmarks/results/wearable_cinc2017.md) it ranks AF (AUROC 0.954) and sinus rhythm (0.965) well. Its network's own Poor data quality threshold was chosen on CinC 2017 folds 1-9; the evidence combination (below) re-weighs Poor data quality with whole-record quality measurements and on the CinC 2017 test fold calls 3.7 % of clean strips and two thirds of the unreadable ones poor (benchmarks/results/evidence_combination.md). Fitted without CinC 2017 the same combination called half of the clean CinC strips poor: on a device it was not fitted on, read the signal-quality gate of the result as well. Max-aggregated labels (Poor data quality, PVC, VT, SVT with aberrancy, pacemaker) take the maximum over windows, so strips much longer than the 10-s records it was calibrated on raise them.')"
	$(EVIDENCE) --package $(PRETRAINED)/ecgscope-17-1lead --sources $(EVIDENCE_1LEAD)
	$(QUANTIZE) --package $(PRETRAINED)/ecgscope-17-1lead --validate $(QUANTIZE_1LEAD)

# the AF detector reads whole strips: a logistic model over record-level rhythm statistics (RR irregularity,
# P waves, atrial activity; docs/models.md), which beat every 5-s-window network on the CinC 2017 test fold
models-af-1lead: | $(STAMP)
	$(BIN)/ecgscope train-rhythm --task cinc2017-af --version 0.3.0 --data-dir $(DATA) --name ecgscope-af-1lead \
		--out $(PRETRAINED)/ecgscope-af-1lead \
		--description "Atrial fibrillation vs any other rhythm from a whole single-lead wearable strip: a logistic model over record-level rhythm statistics (RR irregularity, P-wave presence, atrial activity before the QRS) from ecgscope's learned delineation. The 5-s-window networks trained for this task: benchmarks/results/shipped_models.md." \
		--limits "- Trained on AliveCor handheld strips of 9-60 s. Strips of a few seconds hold few beats: the result warns below 20 beats and refuses below 5. Atrial flutter with a regular ventricular response and AF with a very regular response look regular to it."

models: models-17-12lead models-17-1lead models-af-1lead

models-benchmark: install
	nice -n 10 $(PY) benchmarks/shipped_models.py --data-dir $(DATA) --runs $(MODEL_RUNS)
