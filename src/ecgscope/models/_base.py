"""The interface every ecgscope backbone implements (timm-style entry points).

``x`` is always a float32 batch of windows ``(B, C, T)`` exactly as
:class:`~ecgscope.signal.contract.Preprocessor` produces them for the model's contract.

* ``forward_features(x) -> (B, T', D)``  token features of the last layer
* ``forward_intermediates(x) -> [(B, T'_l, D_l)] * L``  every layer's tokens (for layer fusion)
* ``forward_grid(x) -> (B, G, n, D)``  tokens per lead group and time step (masked reconstruction)
* ``forward_head(feats, pre_logits=False) -> (B, num_classes)``  (``feats`` is the list of
  intermediates for the fusion heads ``ppa`` / ``pma``)
* ``forward(x)``  logits
* ``reset_classifier(num_classes, head=...)``, ``num_features``, ``pretrained_cfg``
* ``layer_groups()``  parameters from input to output, for layer-wise learning-rate decay
* ``set_regularization(drop_path_rate=..., drop_rate=...)``  stochastic depth / dropout after
  construction (post-training turns them on for stage 2)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ecgscope.errors import ContractError
from ecgscope.models.heads import create_head
from ecgscope.models.layers.drop_path import set_drop_path, set_dropout
from ecgscope.models.pretrained import PretrainedCfg


class ECGModel(nn.Module):
    """Base class: a backbone plus a pluggable head.

    Subclasses build their layers, set ``num_features`` and ``layer_dims`` and call
    :meth:`build_head` at the end of ``__init__``.
    """

    #: the model can take a subset of leads on its own (ST-MEM's lead embeddings)
    accepts_lead_subset: ClassVar[bool] = False
    #: the model has state fitted on data before training (CardioMorph's MiniRocket kernels)
    requires_fit: ClassVar[bool] = False
    #: default pooling of the linear/fusion heads
    default_pool: ClassVar[str] = "mean"

    pretrained_cfg: PretrainedCfg
    num_features: int
    layer_dims: list[int]

    def __init__(self, *, in_chans: int, num_classes: int, head: str = "linear", drop_rate: float = 0.0,
                 pretrained_cfg: PretrainedCfg | None = None):
        super().__init__()
        self._in_chans = int(in_chans)
        self.num_classes = int(num_classes)
        self.head_name = head
        self.drop_rate = float(drop_rate)
        self.pretrained_cfg = pretrained_cfg or PretrainedCfg()
        self.model_name = type(self).__name__.lower()
        self.init_kwargs: dict[str, Any] = {}

    # ------------------------------------------------------------------ to implement
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Backbone parameters grouped from the input (index 0) to the last layer; head excluded."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def build_head(self) -> None:
        self.head = create_head(self.head_name, self.num_features, self.num_classes,
                                layer_dims=self.layer_dims, pool=self.default_pool, drop_rate=self.drop_rate)

    @property
    def uses_intermediates(self) -> bool:
        return bool(getattr(self.head, "needs_intermediates", False))

    def forward_head(self, feats: torch.Tensor | list[torch.Tensor], pre_logits: bool = False) -> torch.Tensor:
        if self.uses_intermediates and isinstance(feats, torch.Tensor):
            raise ContractError(f"head {self.head_name!r} fuses layers: pass forward_intermediates(x)")
        if not self.uses_intermediates and isinstance(feats, list):
            feats = feats[-1]
        return self.head(feats, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        feats = self.forward_intermediates(x) if self.uses_intermediates else self.forward_features(x)
        return self.forward_head(feats)

    def forward_grid(self, x: torch.Tensor) -> torch.Tensor:
        """(B, G, n, D) tokens on a (lead group x time) grid, for masked reconstruction.

        Models that mix the leads in their first layer have one group (G = 1); ST-MEM has one
        row of tokens per lead.
        """
        return self.forward_features(x).unsqueeze(1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled (B, D) representation before the classifier."""
        feats = self.forward_intermediates(x) if self.uses_intermediates else self.forward_features(x)
        return self.forward_head(feats, pre_logits=True)

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 3:
            raise ContractError(f"model input must be (batch, channels, samples); got shape {tuple(x.shape)}")
        want = self.in_chans
        if x.shape[1] != want:
            raise ContractError(f"{self.model_name} takes {want} channel(s); got {x.shape[1]}")

    @property
    def in_chans(self) -> int:
        return self._in_chans

    def reset_classifier(self, num_classes: int, head: str | None = None,
                         labels: tuple[str, ...] | None = None) -> None:
        """New randomly initialised head with ``num_classes`` outputs (and optionally another kind)."""
        self.num_classes = int(num_classes)
        if head is not None:
            self.head_name = head
            self.init_kwargs["head"] = head
        self.init_kwargs["num_classes"] = self.num_classes
        self.build_head()
        if labels is not None:
            if len(labels) != num_classes:
                raise ValueError(f"{len(labels)} label names for {num_classes} outputs")
            self.pretrained_cfg = self.pretrained_cfg.replace(labels=tuple(labels))

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.head.parameters())

    def backbone_parameters(self) -> list[nn.Parameter]:
        head = {id(p) for p in self.head.parameters()}
        return [p for p in self.parameters() if id(p) not in head]

    def set_regularization(self, drop_path_rate: float | None = None, drop_rate: float | None = None) -> None:
        """Stochastic depth (rising linearly with depth to ``drop_path_rate``) and dropout rate."""
        if drop_path_rate is not None:
            set_drop_path(self, drop_path_rate)
        if drop_rate is not None:
            set_dropout(self, drop_rate)

    def fit_data(self, x: np.ndarray) -> ECGModel:
        """Fit data-dependent state on training windows (B, C, T); a no-op unless ``requires_fit``."""
        return self

    @property
    def is_fitted(self) -> bool:
        return True

    def set_input_leads(self, leads: tuple[str, ...]) -> None:
        """Take only ``leads`` (models with ``accepts_lead_subset``)."""
        raise ContractError(f"{self.model_name} does not take a subset of leads; duplicate the lead instead")

    def num_params(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
