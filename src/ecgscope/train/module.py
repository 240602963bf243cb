"""Lightning module for multi-label classification of ECG windows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch

from ecgscope.evaluate.metrics import macro_auroc
from ecgscope.labels import aggregate_windows
from ecgscope.models import ECGModel
from ecgscope.train.losses import masked_bce
from ecgscope.train.strategies import Stage, backbone_modules, param_groups, set_backbone_trainable


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.05
    layer_decay: float = 1.0
    warmup_share: float = 0.05  # of the stage's steps


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """LR multiplier: linear warm-up, then cosine decay to 1 % of the peak."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))


class ClassifierModule(L.LightningModule):
    """Trains ``model`` with a NaN-masked, class-weighted BCE; validates on record-level macro AUROC.

    Validation windows are scored, aggregated per record with
    :func:`~ecgscope.labels.aggregate_windows` (max for episodic findings, mean otherwise) and
    scored against the record targets with :func:`~ecgscope.evaluate.metrics.macro_auroc`.
    """

    def __init__(self, model: ECGModel, labels: tuple[str, ...], pos_weight: np.ndarray | None, stage: Stage,
                 optim: OptimConfig, val_targets: np.ndarray | None = None):
        super().__init__()
        self.model = model
        self.labels = tuple(labels)
        self.register_buffer("pos_weight", None if pos_weight is None else torch.as_tensor(pos_weight))
        self.optim = optim
        self.val_targets = val_targets
        self.set_stage(stage)
        self._val_probs: list[torch.Tensor] = []
        self._val_owner: list[torch.Tensor] = []
        self.history: list[dict] = []

    def set_stage(self, stage: Stage) -> None:
        """Freeze or unfreeze the backbone and set the stage's regularisation."""
        self.stage = stage
        set_backbone_trainable(self.model, stage.train_backbone)
        self.model.set_regularization(drop_path_rate=stage.drop_path_rate, drop_rate=stage.drop_rate)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and not self.stage.train_backbone:
            # a frozen backbone also keeps its BatchNorm statistics and has no dropout / drop-path
            for m in backbone_modules(self.model):
                m.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def on_train_epoch_start(self) -> None:
        # Lightning keeps the modules' modes as it finds them: (re)apply this stage's (frozen parts in eval)
        self.train()
        dl = self.trainer.train_dataloader
        ds = getattr(dl, "dataset", None)
        if hasattr(ds, "set_epoch"):
            ds.set_epoch(self.current_epoch)
        sampler = getattr(dl, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.current_epoch)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = masked_bce(self.model(x), y, self.pos_weight)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=x.shape[0], sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, owner = batch
        self._val_probs.append(torch.sigmoid(self.model(x).float()).detach().cpu())
        self._val_owner.append(owner.detach().cpu())

    def record_probabilities(self, probs: np.ndarray, owner: np.ndarray, n_records: int) -> np.ndarray:
        out = np.zeros((n_records, probs.shape[1]), dtype=np.float64)
        for k in range(n_records):
            out[k] = aggregate_windows(probs[owner == k], self.labels)
        return out

    def on_validation_epoch_end(self) -> None:
        if not self._val_probs or self.val_targets is None:
            return
        probs = torch.cat(self._val_probs).numpy()
        owner = torch.cat(self._val_owner).numpy()
        self._val_probs.clear()
        self._val_owner.clear()
        rec = self.record_probabilities(probs, owner, len(self.val_targets))
        auroc = macro_auroc(self.val_targets, rec)
        with torch.no_grad():
            logits = torch.logit(torch.as_tensor(rec, dtype=torch.float32).clamp(1e-6, 1 - 1e-6))
            val_loss = float(masked_bce(logits, torch.as_tensor(self.val_targets), None))
        # every rank scored the full validation set: the values agree, the (mean) reduction keeps them
        self.log("val_macro_auroc", auroc, prog_bar=True, sync_dist=True)
        self.log("val_loss", val_loss, prog_bar=False, sync_dist=True)
        self.history.append({"stage": self.stage.name, "epoch": int(self.current_epoch),
                             "step": int(self.global_step), "val_macro_auroc": auroc, "val_loss": val_loss})

    def configure_optimizers(self):
        groups = param_groups(self.model, self.optim.lr * self.stage.lr_scale, self.optim.weight_decay,
                              self.optim.layer_decay, self.stage.train_backbone)
        opt = torch.optim.AdamW(groups)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(self.optim.warmup_share * total)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, total, warmup))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
