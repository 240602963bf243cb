"""Training: adaptation strategies, Lightning modules and data, self-supervised pretraining.

>>> from ecgscope.train import TrainConfig, train                                  # doctest: +SKIP
>>> res = train(TrainConfig(model="ssm", strategy="post-train", task="ptbxl17"))   # doctest: +SKIP
>>> res.metrics["val"]["macro"]["auroc"]                                             # doctest: +SKIP
"""

from ecgscope.train.fit import TrainConfig, TrainResult, train
from ecgscope.train.losses import masked_bce, pos_weight_from
from ecgscope.train.objectives import OBJECTIVES, MaskedReconstruction, SegmentContrastive
from ecgscope.train.pretrain import PretrainConfig, PretrainResult, pretrain
from ecgscope.train.strategies import STRATEGIES, Stage, Strategy, get_strategy

__all__ = [
    "OBJECTIVES", "STRATEGIES", "MaskedReconstruction", "PretrainConfig", "PretrainResult", "SegmentContrastive",
    "Stage", "Strategy", "TrainConfig", "TrainResult", "get_strategy", "masked_bce", "pos_weight_from", "pretrain",
    "train",
]
