"""Classification heads: ``linear``, ``attn`` (learnable-query attention pooling), and the layer-fusion
heads ``ppa`` / ``pma`` / ``ipastmem`` from ECG-Soup.  Every head names its last layer ``fc``."""

from __future__ import annotations

from torch import nn

from ecgscope.models.heads.attention import AttentionHead
from ecgscope.models.heads.fusion import GroupLayerAverage, IPASTMEMHead, PMAHead, PPAHead
from ecgscope.models.heads.linear import LinearHead

HEADS = ("linear", "attn", "ppa", "pma", "ipastmem")
FUSION_HEADS = ("ppa", "pma", "ipastmem")


def create_head(name: str, num_features: int, num_classes: int, *, layer_dims: list[int] | None = None,
                pool: str = "mean", drop_rate: float = 0.0) -> nn.Module:
    """Build head ``name`` for features of width ``num_features`` (``layer_dims`` for fusion heads)."""
    if name == "linear":
        return LinearHead(num_features, num_classes, pool=pool, drop_rate=drop_rate)
    if name == "attn":
        return AttentionHead(num_features, num_classes, drop_rate=drop_rate)
    if name in FUSION_HEADS:
        if not layer_dims:
            raise ValueError(f"head {name!r} needs the per-layer feature widths")
        cls = {"ppa": PPAHead, "pma": PMAHead, "ipastmem": IPASTMEMHead}[name]
        return cls(list(layer_dims), num_classes, pool=pool, drop_rate=drop_rate)
    raise ValueError(f"unknown head {name!r}; valid heads: {', '.join(HEADS)}")


__all__ = ["FUSION_HEADS", "HEADS", "AttentionHead", "GroupLayerAverage", "IPASTMEMHead", "LinearHead", "PMAHead",
           "PPAHead", "create_head"]
