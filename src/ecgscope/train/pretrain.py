"""Self-supervised pretraining on unlabeled records, producing an encoder bundle for fine-tuning.

>>> from ecgscope.train.pretrain import PretrainConfig, pretrain          # doctest: +SKIP
>>> res = pretrain(PretrainConfig(model="ssm", dataset="ptbxl100", epochs=5))  # doctest: +SKIP
>>> create_model("ssm", pretrained=res.bundle, num_classes=17)                # doctest: +SKIP
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from ecgscope.datasets import open_dataset
from ecgscope.models import ECGModel, create_model, save_bundle
from ecgscope.train.callbacks import BundleCheckpoint
from ecgscope.train.data import PairDataset, UnlabeledDataModule
from ecgscope.train.fit import _distributed, _precision
from ecgscope.train.module import warmup_cosine
from ecgscope.train.objectives import OBJECTIVES, MaskedReconstruction, SegmentContrastive


class PretrainModule(L.LightningModule):
    """Sum of the chosen objectives on pairs of segments of one record."""

    def __init__(self, model: ECGModel, objectives: tuple[str, ...], n_channels: int, n_samples: int,
                 lr: float = 1e-3, weight_decay: float = 0.05, mask_ratio: float = 0.5, temperature: float = 0.1,
                 fusion: str = "last"):
        super().__init__()
        bad = [o for o in objectives if o not in OBJECTIVES]
        if bad or not objectives:
            raise ValueError(f"unknown objective(s) {bad or objectives}; valid: {', '.join(OBJECTIVES)}")
        self.model = model
        self.objectives = tuple(objectives)
        self.masked = (MaskedReconstruction(model, n_channels, n_samples, mask_ratio, fusion=fusion)
                       if "masked" in objectives else None)
        self.contrastive = SegmentContrastive(model, temperature=temperature) if "contrastive" in objectives else None
        self.lr = lr
        self.weight_decay = weight_decay
        self.history: list[dict] = []

    def _losses(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        if self.masked is not None:
            out["masked"] = self.masked(self.model, torch.cat([a, b]))
        if self.contrastive is not None:
            out["contrastive"] = self.contrastive(self.model, a, b)
        return out

    def on_train_epoch_start(self) -> None:
        self.train()
        ds = getattr(self.trainer.train_dataloader, "dataset", None)
        if isinstance(ds, PairDataset):
            ds.set_epoch(self.current_epoch)

    def training_step(self, batch, batch_idx):
        a, b = batch
        losses = self._losses(a, b)
        loss = sum(losses.values())
        for k, v in losses.items():
            self.log(f"train_{k}", v, on_step=True, on_epoch=True, batch_size=a.shape[0], sync_dist=True)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=a.shape[0], sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        a, b = batch
        losses = self._losses(a, b)
        # fixed masks and pairs would need a seeded generator per batch; the mean over the split is stable enough
        self.log("val_loss", sum(losses.values()), prog_bar=True, batch_size=a.shape[0], sync_dist=True)
        for k, v in losses.items():
            self.log(f"val_{k}", v, batch_size=a.shape[0], sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        m = self.trainer.callback_metrics
        self.history.append({"epoch": int(self.current_epoch),
                             **{k: float(v) for k, v in m.items() if k.startswith("val_")}})

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=self.lr)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(0.05 * total)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, total, warmup))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


@dataclass
class PretrainConfig:
    model: str = "ssm"
    dataset: str = "ptbxl100"  # any ecgscope dataset, or "challenge" with ``root`` (a folder of WFDB files)
    root: str | None = None
    data_dir: str | None = None
    objectives: tuple[str, ...] = ("masked", "contrastive")
    out_dir: str = "runs/pretrain"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    mask_ratio: float = 0.5
    fusion: str = "last"  # "ipastmem": the masked decoder reads the group-wise average of every layer (ECG-Soup)
    temperature: float = 0.1
    patience: int = 5
    seed: int = 0
    limit: int | None = None
    max_steps: int = -1
    devices: int | str = 1
    num_nodes: int = 1
    accelerator: str = "auto"
    num_workers: int = 0
    progress: bool = True
    model_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class PretrainResult:
    bundle: Path
    metrics: dict[str, Any]
    history: list[dict]
    model: ECGModel
    is_global_zero: bool = True


def pretrain(cfg: PretrainConfig) -> PretrainResult:
    """Pretrain ``cfg.model`` on unlabeled records; writes ``encoder.pt`` (bundle kind "encoder").

    Labels are never read: any dataset, or any folder of WFDB records (``dataset="challenge"``,
    ``root=folder``), works.  Records are split by the dataset's folds (1-8 train, 9 validation; fold 10, the
    test fold of every task, is never used).
    """
    t0 = time.time()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model = create_model(cfg.model, num_classes=0, **cfg.model_kwargs)
    contract = model.pretrained_cfg.input_contract
    if cfg.dataset == "challenge" or cfg.root is not None:
        ds = open_dataset("challenge", cfg.root or cfg.data_dir)
    else:
        ds = open_dataset(cfg.dataset, cfg.data_dir)
    dm = UnlabeledDataModule(ds, contract, batch_size=cfg.batch_size, seed=cfg.seed, limit=cfg.limit,
                             num_workers=cfg.num_workers, allow_single_lead=True)
    dm.prepare_data()
    dm.setup()
    if model.requires_fit and not model.is_fitted:
        model.fit_data(dm.sample_windows(256))
    module = PretrainModule(model, tuple(cfg.objectives), contract.n_channels, contract.window_samples, lr=cfg.lr,
                            weight_decay=cfg.weight_decay, mask_ratio=cfg.mask_ratio, temperature=cfg.temperature,
                            fusion=cfg.fusion)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join(shlex.quote(a) for a in sys.argv) if sys.argv and "ecgscope" in sys.argv[0] else None
    training = {"config": asdict(cfg), "command": command, "objectives": list(cfg.objectives),
                "dataset": ds.name, "records": {k: len(v) for k, v in dm.parts.items()}}
    ckpt = BundleCheckpoint(out, monitor="val_loss", mode="min",
                            metadata={"kind": "encoder", "training": training})
    trainer = L.Trainer(
        max_epochs=cfg.epochs, max_steps=cfg.max_steps, accelerator=cfg.accelerator, devices=cfg.devices,
        num_nodes=cfg.num_nodes, strategy="ddp" if _distributed(cfg.devices, cfg.num_nodes) else "auto",
        precision=_precision(cfg.accelerator),
        callbacks=[ckpt, EarlyStopping("val_loss", mode="min", patience=cfg.patience, check_on_train_epoch_end=False),
                   *([TQDMProgressBar(refresh_rate=10)] if cfg.progress else [])],
        logger=[CSVLogger(str(out), name="logs"), TensorBoardLogger(str(out), name="tb")],
        enable_checkpointing=False, enable_progress_bar=cfg.progress, enable_model_summary=False,
        log_every_n_steps=5, num_sanity_val_steps=0, use_distributed_sampler=False,
    )
    trainer.fit(module, datamodule=dm)
    ckpt.restore_best(model)
    metrics = {"best": ckpt.best_info, "history": module.history, "seconds": round(time.time() - t0, 1),
               "records": training["records"], "world_size": int(trainer.world_size)}
    bundle = out / "encoder.pt"
    rank_zero = bool(trainer.is_global_zero)
    if rank_zero:
        save_bundle(model, bundle, kind="encoder", metrics=metrics, training=training)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
        (out / "best.pt").unlink(missing_ok=True)  # the callback's copy: encoder.pt is the result
    return PretrainResult(bundle, metrics, module.history, model, rank_zero)


__all__ = ["PretrainConfig", "PretrainModule", "PretrainResult", "pretrain"]
