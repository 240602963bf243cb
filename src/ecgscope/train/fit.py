"""``train``: one call from (model, strategy, task) to a checkpoint bundle and its metrics.

Lightning runs the loop: checkpoints (ecgscope bundles), early stopping on validation macro
AUROC, a progress bar, CSV + TensorBoard logs, ``16-mixed`` precision on a GPU (32-bit on a CPU),
and DDP when more than one device or node is asked for (gloo on CPUs).
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from ecgscope.evaluate.metrics import evaluate_multilabel, macro_auroc
from ecgscope.models import ECGModel, create_model, save_bundle
from ecgscope.tasks import Task, get_task
from ecgscope.train.augment import DeviceAugment
from ecgscope.train.callbacks import BundleCheckpoint
from ecgscope.train.data import TaskDataModule
from ecgscope.train.losses import pos_weight_from
from ecgscope.train.module import ClassifierModule, OptimConfig
from ecgscope.train.strategies import Strategy, get_strategy, stage_epochs


@dataclass
class TrainConfig:
    """Everything that defines a training run (written next to its outputs as ``config.json``)."""

    model: str = "ssm"
    strategy: str = "finetune"
    task: str = "ptbxl17"
    out_dir: str = "runs/train"
    data_dir: str | None = None
    pretrained: str | None = None
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    layer_decay: float | None = None  # None = auto: 0.75 from pretrained weights, 1.0 from scratch
    patience: int = 6
    seed: int = 0
    lead: str | None = None  # single-lead strategy / task: which lead (default: the task's, else I)
    head: str | None = None  # override the strategy's head
    input: str | None = None  # override the task's input ("12-lead 10 s", ...)
    limit: int | None = None  # at most this many training records (smoke runs)
    train_rows: tuple[int, ...] | None = None  # dataset rows to train on (a subset of the train split)
    max_steps: int = -1  # per stage; -1 = no limit
    devices: int | str = 1
    num_nodes: int = 1
    accelerator: str = "auto"
    num_workers: int = 0
    progress: bool = True
    test: bool = True  # score the test split at the end
    n_bootstrap: int = 200
    augment: str = "none"  # a recipe of ecgscope.train.augment.AUGMENT_RECIPES for the training crops
    model_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageRecord:
    """Head and backbone weights at the start and end of one stage (post-train's hand-over is checkable)."""

    stage: str
    head_start: dict[str, torch.Tensor]
    head_end: dict[str, torch.Tensor] = field(default_factory=dict)
    backbone_changed: bool = False


@dataclass
class TrainResult:
    bundle: Path
    metrics: dict[str, Any]
    history: list[dict]
    model: ECGModel
    stages: list[StageRecord] = field(default_factory=list)
    is_global_zero: bool = True  # False in the other DDP processes (they return the same model, write nothing)
    # record-level probabilities and targets of the scored parts ("val", "test"): (n, n_labels) each
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    targets: dict[str, np.ndarray] = field(default_factory=dict)


def _precision(accelerator: str) -> str:
    gpu = torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda")
    return "16-mixed" if gpu else "32-true"


def _distributed(devices: int | str, num_nodes: int) -> bool:
    return num_nodes > 1 or (isinstance(devices, int) and devices > 1) or devices == -1


def build_model(cfg: TrainConfig, task: Task, strategy: Strategy) -> tuple[ECGModel, Any]:
    """The model with the task's head, and the merged input contract."""
    kwargs = dict(cfg.model_kwargs)
    head = cfg.head or strategy.head
    model = create_model(cfg.model, pretrained=cfg.pretrained, num_classes=len(task.labels), head=head, **kwargs)
    if model.num_classes != len(task.labels) or model.head_name != head:
        model.reset_classifier(len(task.labels), head=head)
    if cfg.input:
        task = dataclasses.replace(task, input=cfg.input)
    single = strategy.single_lead or task.single_lead
    lead = cfg.lead or task.spec.single_lead or ("I" if single else None)
    alone = bool(single and model.accepts_lead_subset)
    contract = task.contract_for(model.pretrained_cfg.input_contract, fixed_window=model.pretrained_cfg.fixed_window,
                                 lead_alone=alone, lead=lead if single else None)
    if alone:
        model.set_input_leads((lead,))
    model.pretrained_cfg = model.pretrained_cfg.replace(
        input_contract=contract, labels=task.labels, task=task.name, input="single-lead" if single else "12-lead")
    return model, contract


def train(cfg: TrainConfig, callbacks: list[L.Callback] | None = None) -> TrainResult:
    """Train ``cfg.model`` on ``cfg.task`` with ``cfg.strategy``; returns the best bundle and metrics.

    Outputs in ``cfg.out_dir``: ``best.pt`` (bundle: best validation macro AUROC), ``config.json``,
    ``metrics.json`` (validation/test reports with bootstrap CIs), ``logs/`` (CSV and TensorBoard).
    """
    t0 = time.time()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    task = get_task(cfg.task)
    strategy = get_strategy(cfg.strategy)
    model, contract = build_model(cfg, task, strategy)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dm = TaskDataModule(task, contract, cfg.data_dir, batch_size=cfg.batch_size, seed=cfg.seed, limit=cfg.limit,
                        num_workers=cfg.num_workers,
                        train_rows=None if cfg.train_rows is None else np.asarray(cfg.train_rows),
                        augment=DeviceAugment.recipe(cfg.augment))
    dm.prepare_data()  # fills the cache before any DDP rank starts (each rank runs this; cached after the first)
    dm.setup()
    if model.requires_fit and not model.is_fitted:
        model.fit_data(dm.sample_windows(256))
    train_y = dm.parts["train"].targets
    val_y = dm.parts["val"].targets
    layer_decay = cfg.layer_decay if cfg.layer_decay is not None else (0.75 if cfg.pretrained else 1.0)
    optim = OptimConfig(lr=cfg.lr, weight_decay=cfg.weight_decay, layer_decay=layer_decay)
    command = " ".join(shlex.quote(a) for a in sys.argv) if sys.argv and "ecgscope" in sys.argv[0] else None
    meta = {"task": task.name, "training": {"config": asdict(cfg), "command": command, "strategy": strategy.name,
                                             "contract": contract.to_dict()}}
    ckpt = BundleCheckpoint(out, metadata=meta)
    module = ClassifierModule(model, task.labels, pos_weight_from(train_y), strategy.stages[0], optim, val_targets=val_y)
    loggers = [CSVLogger(str(out), name="logs"), TensorBoardLogger(str(out), name="tb")]
    distributed = _distributed(cfg.devices, cfg.num_nodes)
    stage_log, records = [], []
    for stage, epochs in zip(strategy.stages, stage_epochs(strategy, cfg.epochs), strict=True):
        module.set_stage(stage)
        backbone_start = _backbone_state(model)
        records.append(StageRecord(stage.name, _head_state(model)))
        stage_log.append({"stage": stage.name, "epochs": epochs, "train_backbone": stage.train_backbone,
                          "drop_path_rate": stage.drop_path_rate, "drop_rate": stage.drop_rate})
        trainer = L.Trainer(
            max_epochs=epochs, max_steps=cfg.max_steps, accelerator=cfg.accelerator, devices=cfg.devices,
            num_nodes=cfg.num_nodes, strategy="ddp" if distributed else "auto", precision=_precision(cfg.accelerator),
            callbacks=[ckpt, EarlyStopping("val_macro_auroc", mode="max", patience=cfg.patience,
                                             check_on_train_epoch_end=False),
                       *([TQDMProgressBar(refresh_rate=10)] if cfg.progress else []), *(callbacks or [])],
            logger=loggers, enable_checkpointing=False, enable_progress_bar=cfg.progress, enable_model_summary=False,
            log_every_n_steps=5, num_sanity_val_steps=0, use_distributed_sampler=False,
            deterministic=False,
        )
        with warnings.catch_warnings():
            # a frozen backbone is in eval mode on purpose (BatchNorm statistics, no drop-path)
            warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
            trainer.fit(module, datamodule=dm)
        # the next stage starts from this stage's best weights (post-train: the linear-probed head)
        ckpt.restore_best(model)
        stage_log[-1]["best"] = dict(ckpt.best_info)
        records[-1].head_end = _head_state(model)
        after = _backbone_state(model)
        records[-1].backbone_changed = any(not torch.equal(backbone_start[k], after[k]) for k in after)
    model.eval()
    scored = ("val", "test") if cfg.test else ("val",)
    predictions = {part: predict_records(module, dm, part) for part in scored}
    targets = {part: dm.parts[part].targets for part in scored}
    metrics = {part: _evaluate(targets[part], predictions[part], module.labels, cfg.n_bootstrap, cfg.seed)
               for part in scored}
    metrics["constant_predictor_val_macro_auroc"] = macro_auroc(val_y, np.full(val_y.shape, 0.5))
    metrics["best"] = ckpt.best_info
    metrics["stages"] = stage_log
    metrics["train_records"] = len(dm.parts["train"].prepared)
    metrics["skipped_records"] = {k: len(v.prepared.skipped) for k, v in dm.parts.items()}
    metrics["seconds"] = round(time.time() - t0, 1)
    metrics["world_size"] = int(trainer.world_size)
    bundle = out / "best.pt"
    rank_zero = bool(trainer.is_global_zero)
    if rank_zero:
        save_bundle(model, bundle, task=task.name, metrics=metrics, training=meta["training"])
        (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2, default=str))
        (out / "metrics.json").write_text(json.dumps(_jsonable(metrics), indent=2))
    return TrainResult(bundle, metrics, module.history, model, records, rank_zero, predictions, targets)


def _head_state(model: ECGModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.head.state_dict().items()}


def _backbone_state(model: ECGModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if not k.startswith("head.")}


@torch.no_grad()
def predict_records(module: ClassifierModule, dm: TaskDataModule, part: str) -> np.ndarray:
    """Record-level probabilities of a split (window probabilities aggregated per record)."""
    loader = dm._eval_loader(part)
    module.eval()
    probs, owner = [], []
    for x, o in loader:
        probs.append(torch.sigmoid(module.model(x.to(module.device)).float()).cpu())
        owner.append(o)
    p = torch.cat(probs).numpy()
    return module.record_probabilities(p, torch.cat(owner).numpy(), len(dm.parts[part].prepared))


def _evaluate(y: np.ndarray, p: np.ndarray, labels: tuple[str, ...], n_bootstrap: int, seed: int) -> dict:
    report = evaluate_multilabel(y, p, labels=labels, n_bootstrap=n_bootstrap, seed=seed)
    return report.to_dict() | {"summary": report.summary_line()}


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.floating, float)):
        v = float(o)
        return None if v != v else v
    if isinstance(o, np.integer):
        return int(o)
    return o
