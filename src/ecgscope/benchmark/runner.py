"""The benchmark grid: tasks x models x strategies x label fractions x seeds, resumable.

What one cell is
----------------
Every cell starts from the same self-supervised encoder of its (model, task dataset): one
:func:`ecgscope.train.pretrain` run per pair (masked reconstruction + segment contrastive, on the
task's training folds 1-8 with fold 9 for its validation loss; fold 10, the test fold, is never seen,
not even unlabeled), cached under ``WORK/pretrain`` and reused by every strategy, fraction and seed.
So ``linear`` is a linear probe of a pretrained encoder, ``finetune`` fine-tunes it, and
``post-train`` probes and then fine-tunes from the probed head, as in the literature.

The cell trains on the records of its label fraction of the training patients
(:mod:`ecgscope.benchmark.fractions`: nested, stratified, subject-aware, one subset per task and
seed for every model and strategy), selects its checkpoint on validation macro AUROC (fold 9,
all records), picks per-label F1-maximising thresholds on validation (:class:`ThresholdSelector`)
and scores the test split with bootstrap CIs over test records
(:func:`ecgscope.evaluate.metrics.evaluate_multilabel`).

CPU budget (the default, ``device="cpu"``)
-----------------------------------------
One torch thread per cell, cells one after another (the machine is shared), batch 64.  A cell at
fraction ``f`` trains ``ceil(epochs / sqrt(f))`` epochs: halfway (on a log scale) between equal
epochs (small fractions would get a handful of optimizer steps) and equal steps (small fractions
would cost as much as the full set, validation passes included).  ``epochs=2``, ``pretrain_epochs=2``
on the CPU: 2 / 4 / 7 epochs at 100 / 30 / 10 %.  The foundation encoders (ECG-FM at 500 Hz, ST-MEM at
250 Hz) cost about 9x more per window, so their CPU budget (``model_budgets``) is ``epochs=1``,
``pretrain_epochs=1``: 1 / 2 / 4 epochs.  ``post-train`` splits its epochs 1:3 between the probe and
the fine-tuning stage with at least one epoch each (:func:`ecgscope.train.strategies.stage_epochs`), so
at these budgets it gets one probe epoch on top of the fine-tuning epochs ``finetune`` gets.  ``budget_minutes`` stops starting new cells once
the run has used that much wall time; the next run with the same ``out`` resumes.

On a GPU (``device="gpu"``) the defaults become 20 epochs, 10 pretraining epochs, batch 128, torch's
own thread count and Lightning's GPU accelerator (16-bit mixed precision); nothing else changes.

Resuming
--------
Each finished cell writes ``OUT/cells/<cell id>.json`` (metrics) and ``.npz`` (test and validation
record probabilities and targets).  A re-run skips cells whose JSON exists and was produced with the
same settings; results made with other settings are an error (use another ``out``), never mixed.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.benchmark.fractions import check_fraction_split, fraction_rows
from ecgscope.calibrate.thresholds import ThresholdSelector
from ecgscope.evaluate.calibration import calibration_summary, reliability_curve
from ecgscope.evaluate.metrics import evaluate_multilabel
from ecgscope.tasks import get_task

# the foundation encoders' own contracts (ECG-FM 500 Hz x 2500 samples, ST-MEM 250 Hz x 2250) cost ~9x the
# 100-Hz CNN/SSM backbones per window on a CPU: their CPU budget is one epoch at 100 % labels and one epoch of
# pretraining (cells at fraction f still get ceil(1 / sqrt f) epochs)
_CPU_FOUNDATION = {"epochs": 1, "pretrain_epochs": 1}
DEVICE_PROFILES: dict[str, dict[str, Any]] = {
    "cpu": {"epochs": 2, "pretrain_epochs": 2, "batch_size": 64, "threads": 1, "accelerator": "cpu",
            "model_budgets": {m: dict(_CPU_FOUNDATION) for m in ("ecgfm_tiny", "ecgfm", "stmem_tiny", "stmem_small",
                                                                  "stmem")}},
    "gpu": {"epochs": 20, "pretrain_epochs": 10, "batch_size": 128, "threads": None, "accelerator": "gpu",
            "model_budgets": {}},
}

# settings that change a cell's result: a resumed run must agree on all of them
_RESULT_KEYS = ("epochs", "pretrain_epochs", "batch_size", "lr", "pretrain", "n_bootstrap", "accelerator")


@dataclass
class GridConfig:
    """One benchmark grid.  ``None`` fields take the ``device`` profile's value (:data:`DEVICE_PROFILES`)."""

    tasks: Sequence[str] = ("ptbxl17", "cinc2017-af")
    models: Sequence[str] = ("ssm_tiny", "resnet1d_small", "ecgfm_tiny")
    strategies: Sequence[str] = ("linear", "finetune", "post-train")
    fractions: Sequence[float] = (0.1, 0.3, 1.0)
    seeds: Sequence[int] = (1,)
    out: str = "benchmarks/results/grid"
    work_dir: str | None = None  # encoders, bundles, logs (default OUT/work)
    data_dir: str | None = None
    device: str = "cpu"
    epochs: int | None = None
    pretrain_epochs: int | None = None
    batch_size: int | None = None
    threads: int | None = None
    accelerator: str | None = None
    # per-model {"epochs": E, "pretrain_epochs": P} replacing the grid's; None = the device profile's
    model_budgets: dict[str, dict[str, int]] | None = None
    lr: float = 1e-3
    pretrain: bool = True  # False: every cell starts from a random initialisation
    n_bootstrap: int = 1000
    budget_minutes: float | None = None

    def __post_init__(self) -> None:
        if self.device not in DEVICE_PROFILES:
            raise ValueError(f"unknown device {self.device!r}; valid: {', '.join(DEVICE_PROFILES)}")
        profile = DEVICE_PROFILES[self.device]
        for key in ("epochs", "pretrain_epochs", "batch_size", "threads", "accelerator", "model_budgets"):
            if getattr(self, key) is None:
                setattr(self, key, profile[key])
        self.tasks, self.models, self.strategies = tuple(self.tasks), tuple(self.models), tuple(self.strategies)
        self.fractions = tuple(float(f) for f in self.fractions)
        self.seeds = tuple(int(s) for s in self.seeds)
        bad = [f for f in self.fractions if not 0 < f <= 1]
        if bad:
            raise ValueError(f"label fractions must be in (0, 1], got {bad}")

    def budget(self, model: str) -> tuple[int, int]:
        """(epochs at 100 % labels, pretraining epochs) of ``model``'s cells."""
        own = (self.model_budgets or {}).get(model, {})
        return int(own.get("epochs", self.epochs)), int(own.get("pretrain_epochs", self.pretrain_epochs))

    def result_settings(self, model: str) -> dict[str, Any]:
        """Settings that determine a cell's result (a resumed run must agree on them)."""
        settings = {k: getattr(self, k) for k in _RESULT_KEYS}
        settings["epochs"], settings["pretrain_epochs"] = self.budget(model)
        return settings


def epochs_for_fraction(epochs: int, fraction: float) -> int:
    """Epochs of a cell at ``fraction`` of the labels: ``ceil(epochs / sqrt(fraction))``.

    >>> [epochs_for_fraction(2, f) for f in (1.0, 0.3, 0.1)]
    [2, 4, 7]
    """
    return int(math.ceil(epochs / math.sqrt(fraction) - 1e-9))


@dataclass(frozen=True)
class Cell:
    task: str
    model: str
    strategy: str
    fraction: float
    seed: int

    @property
    def id(self) -> str:
        return f"{self.task}__{self.model}__{self.strategy}__f{self.fraction:g}__s{self.seed}"


def grid_cells(cfg: GridConfig) -> list[Cell]:
    """All cells, task by task and model by model (one encoder is pretrained before its model's cells)."""
    return [Cell(t, m, s, f, seed) for t in cfg.tasks for m in cfg.models for seed in cfg.seeds
            for f in sorted(cfg.fractions, reverse=True) for s in cfg.strategies]


@dataclass
class GridRun:
    """What a run did: finished cells (loaded or new), skipped ones and those left for the next run."""

    results: list[dict[str, Any]] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    remaining: list[str] = field(default_factory=list)
    seconds: float = 0.0


def training_subsets(task_name: str, fractions: Sequence[float], seed: int,
                     data_dir: str | None = None) -> tuple[Any, dict[str, np.ndarray], dict[float, np.ndarray]]:
    """(dataset, split parts, {fraction: training rows}) of a task, checked for patient leaks."""
    task = get_task(task_name)
    ds = task.open(data_dir)
    parts = task.splits(ds)
    y = task.target_matrix(ds)
    train = parts["train"]
    subsets = fraction_rows(train, ds.index["patient_id"].to_numpy()[train], y[train], fractions, seed)
    check_fraction_split(ds.index, parts, subsets)
    return ds, parts, subsets


def _encoder(cfg: GridConfig, task_name: str, model: str, work: Path, log: Callable[[str], None]) -> str | None:
    """The cached self-supervised encoder of (model, task dataset), pretrained on first use."""
    if not cfg.pretrain:
        return None
    from ecgscope.train import PretrainConfig, pretrain
    from ecgscope.train.data import PRETRAIN_SPLIT

    task = get_task(task_name)
    if set(task.split["test"]) & {f for fs in PRETRAIN_SPLIT.values() for f in fs}:
        raise ValueError(f"task {task_name}: its test folds {task.split['test']} overlap the pretraining folds")
    pretrain_epochs = cfg.budget(model)[1]
    out = work / "pretrain" / f"{task.dataset}__{model}__e{pretrain_epochs}"
    bundle = out / "encoder.pt"
    if bundle.exists():
        return str(bundle)
    log(f"pretraining {model} on {task.dataset} (folds 1-8, validation 9; {pretrain_epochs} epochs)")
    t0 = time.time()
    res = pretrain(PretrainConfig(model=model, dataset=task.dataset, data_dir=cfg.data_dir, out_dir=str(out),
                                  epochs=pretrain_epochs, batch_size=cfg.batch_size, seed=0, progress=False,
                                  accelerator=cfg.accelerator))
    log(f"  encoder {res.bundle} in {time.time() - t0:.0f} s")
    return str(res.bundle)


def score_predictions(labels: Sequence[str], val_prob: np.ndarray, val_true: np.ndarray, test_prob: np.ndarray,
                      test_true: np.ndarray, n_bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Test metrics of one cell from record-level probabilities.

    Per-label F1-maximising thresholds are chosen on validation and applied unchanged to test; AUROC,
    AUPRC and F1 come with percentile-bootstrap 95 % CIs over test records; calibration (ECE, Brier) and
    the pooled reliability curve are of the raw test probabilities.
    """
    labels = tuple(labels)
    thresholds = ThresholdSelector("f1").fit(val_prob, val_true).thresholds_
    report = evaluate_multilabel(test_true, test_prob, labels=labels, thresholds=thresholds,
                                 n_bootstrap=n_bootstrap, seed=seed)
    curve = reliability_curve(test_true, test_prob)
    return {
        "n_val_records": int(len(val_true)), "n_test_records": int(len(test_true)),
        "thresholds": dict(zip(labels, map(float, thresholds), strict=True)),
        "test": report.to_dict(), "calibration": calibration_summary(test_true, test_prob),
        "reliability": {k: [None if not np.isfinite(v) else float(v) for v in curve[k]] for k in curve},
    }


def run_cell(cfg: GridConfig, cell: Cell, rows: np.ndarray, n_patients: int, encoder: str | None,
             work: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train and score one cell; returns its result record and its record-level predictions."""
    from ecgscope.train import TrainConfig, train

    task = get_task(cell.task)
    epochs = epochs_for_fraction(cfg.budget(cell.model)[0], cell.fraction)
    t0 = time.time()
    res = train(TrainConfig(model=cell.model, strategy=cell.strategy, task=cell.task, out_dir=str(work / cell.id),
                            data_dir=cfg.data_dir, pretrained=encoder, epochs=epochs, batch_size=cfg.batch_size,
                            lr=cfg.lr, seed=cell.seed, train_rows=tuple(int(r) for r in rows),
                            accelerator=cfg.accelerator, progress=False, n_bootstrap=0))
    val_p, val_y = res.predictions["val"], res.targets["val"]
    test_p, test_y = res.predictions["test"], res.targets["test"]
    record = {
        **asdict(cell), "cell": cell.id, "settings": cfg.result_settings(cell.model), "epochs": epochs,
        "pretrained_encoder": encoder is not None, "n_train_records": int(res.metrics["train_records"]),
        "n_train_patients": int(n_patients), "skipped_records": res.metrics["skipped_records"],
        "best": res.metrics["best"], "stages": res.metrics["stages"], "seconds": round(time.time() - t0, 1),
        "val_macro_auroc": res.metrics["val"]["macro"]["auroc"]["value"],
        **score_predictions(task.labels, val_p, val_y, test_p, test_y, cfg.n_bootstrap, cell.seed),
    }
    preds = {"val_prob": val_p.astype(np.float32), "val_true": val_y.astype(np.float32),
             "test_prob": test_p.astype(np.float32), "test_true": test_y.astype(np.float32)}
    return record, preds


def _load_cell(path: Path, cfg: GridConfig, model: str) -> dict[str, Any]:
    record = json.loads(path.read_text())
    expected = json.loads(json.dumps(cfg.result_settings(model)))
    if record.get("settings") != expected:
        raise ValueError(f"{path} was made with settings {record.get('settings')}, this run uses "
                         f"{expected}; use another --out rather than mixing them")
    return record


def run_grid(cfg: GridConfig, log: Callable[[str], None] = print) -> GridRun:
    """Run (or resume) the grid; every finished cell is on disk before the next one starts."""
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    # one progress line per cell instead of Lightning's per-run banners
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*(log_every_n_steps|LeafSpec|litlogger|does not have many workers).*")
    out = Path(cfg.out)
    cells_dir = out / "cells"
    cells_dir.mkdir(parents=True, exist_ok=True)
    work = Path(cfg.work_dir) if cfg.work_dir else out / "work"
    cells = grid_cells(cfg)
    run = GridRun()
    t_start = time.time()
    subsets: dict[tuple[str, int], tuple[dict[float, np.ndarray], dict[float, int]]] = {}
    done_new = 0
    for k, cell in enumerate(cells, 1):
        path = cells_dir / f"{cell.id}.json"
        if path.exists():
            run.results.append(_load_cell(path, cfg, cell.model))
            run.resumed.append(cell.id)
            continue
        elapsed = time.time() - t_start
        if cfg.budget_minutes is not None and elapsed > 60 * cfg.budget_minutes:
            run.remaining.append(cell.id)
            continue
        key = (cell.task, cell.seed)
        if key not in subsets:
            ds, _, rows = training_subsets(cell.task, cfg.fractions, cell.seed, cfg.data_dir)
            pids = ds.index["patient_id"].astype(str).to_numpy()
            subsets[key] = (rows, {f: len(set(pids[r])) for f, r in rows.items()})
        rows, n_patients = subsets[key]
        encoder = _encoder(cfg, cell.task, cell.model, work, log)
        record, preds = run_cell(cfg, cell, rows[cell.fraction], n_patients[cell.fraction], encoder, work)
        np.savez_compressed(cells_dir / f"{cell.id}.npz", **preds)
        path.write_text(json.dumps(record, indent=1, default=float))
        run.results.append(record)
        run.ran.append(cell.id)
        done_new += 1
        elapsed = time.time() - t_start
        left = len(cells) - k
        eta = elapsed / done_new * left
        a = record["test"]["macro"]["auroc"]
        log(f"[{k}/{len(cells)}] {cell.task} {cell.model} {cell.strategy} {cell.fraction:.0%} seed {cell.seed}: "
            f"test macro AUROC {a['value']:.3f} [{a['lo']:.3f}, {a['hi']:.3f}] ({record['n_train_records']} train "
            f"records, {record['epochs']} epochs, {record['seconds']:.0f} s; elapsed {elapsed / 60:.1f} min, "
            f"at most ~{eta / 60:.0f} min left)")
    run.seconds = round(time.time() - t_start, 1)
    if run.remaining:
        log(f"budget of {cfg.budget_minutes} min reached: {len(run.remaining)} cell(s) left; run again to resume")
    return run
