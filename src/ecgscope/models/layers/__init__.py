"""Building blocks shared by backbones and heads."""

from ecgscope.models.layers.attention_pool import AttentionPool
from ecgscope.models.layers.drop_path import DropPath, drop_path, set_drop_path, set_dropout
from ecgscope.models.layers.pooling import (
    POOLINGS,
    MeanPool,
    PowerMeanPool,
    create_pool,
    masked_mean,
    power_mean,
)

__all__ = [
    "POOLINGS", "AttentionPool", "DropPath", "MeanPool", "PowerMeanPool", "create_pool", "drop_path",
    "masked_mean", "power_mean", "set_drop_path", "set_dropout",
]
