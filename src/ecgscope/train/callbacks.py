"""Lightning callbacks: ecgscope bundle checkpoints of the best model."""

from __future__ import annotations

import copy
from pathlib import Path

import lightning as L
import torch

from ecgscope.models.checkpoint import save_bundle


class BundleCheckpoint(L.Callback):
    """Keep the best weights (by ``monitor``) in memory and as an ecgscope bundle ``best.pt``.

    Only global rank 0 writes.  ``metadata`` (task, training command...) goes into the bundle.
    """

    def __init__(self, dirpath: str | Path, monitor: str = "val_macro_auroc", mode: str = "max",
                 metadata: dict | None = None):
        self.dirpath = Path(dirpath)
        self.monitor = monitor
        self.mode = mode
        self.metadata = metadata or {}
        self.best_score: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_info: dict = {}

    def _better(self, value: float) -> bool:
        if value != value:  # NaN never wins
            return False
        if self.best_score is None:
            return True
        return value > self.best_score if self.mode == "max" else value < self.best_score

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        if not self._better(value):
            return
        self.best_score = value
        model = pl_module.model
        self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        stage = getattr(getattr(pl_module, "stage", None), "name", None)
        self.best_info = {self.monitor: value, "epoch": int(trainer.current_epoch), "step": int(trainer.global_step),
                          "stage": stage}
        if trainer.is_global_zero:
            save_bundle(model, self.dirpath / "best.pt", kind=self.metadata.get("kind", "classifier"),
                        task=self.metadata.get("task"), metrics=self.best_info,
                        training=self.metadata.get("training"))

    def restore_best(self, model: torch.nn.Module) -> bool:
        """Load the best weights seen so far into ``model``; False if there were none."""
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True
