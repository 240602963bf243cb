"""Adaptation strategies: named recipes for turning a backbone into a classifier.

=============  ==============================================================================
``linear``      frozen backbone, linear head (linear probe)
``frozen-attn`` frozen backbone, learnable-query attention-pooling head
``finetune``    everything trained, layer-wise learning-rate decay
``post-train``  stage 1: linear probe; stage 2: full fine-tune *starting from the stage-1 head*,
                with stochastic depth and dropout switched on (they act only in ``train()`` mode)
``post-train-full``  the same two stages, but the probe comes on top of ``finetune``'s whole budget: stage 2
                runs all the run's epochs at the run's learning rate (``post-train`` gives it 3/4 of them at half
                the rate), so a comparison with ``finetune`` isolates the probe and the regularisation
``single-lead`` fine-tune on one lead: duplicated into every channel, or fed alone to encoders
                that take a subset of leads (ST-MEM's lead embeddings)
=============  ==============================================================================

Layer-wise decay gives layer ``i`` of ``L`` (0 = input side) the rate ``lr * decay ** (L - i)``
and the head ``lr``.  Its default is "auto": 0.75 when the backbone starts from pretrained
weights (protect them), 1.0 from a random initialisation (nothing to protect).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ecgscope.models import ECGModel


@dataclass(frozen=True)
class Stage:
    """One training phase of a strategy."""

    name: str
    train_backbone: bool
    epoch_share: float = 1.0  # of the run's epochs
    lr_scale: float = 1.0  # times the run's learning rate
    drop_path_rate: float | None = None  # None: leave as constructed
    drop_rate: float | None = None


@dataclass(frozen=True)
class Strategy:
    name: str
    head: str
    stages: tuple[Stage, ...]
    single_lead: bool = False
    description: str = ""


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("linear", "linear", (Stage("probe", train_backbone=False),),
                 description="frozen backbone, linear head"),
        Strategy("frozen-attn", "attn", (Stage("probe", train_backbone=False),),
                 description="frozen backbone, attention-pooling head"),
        Strategy("finetune", "linear", (Stage("finetune", train_backbone=True),),
                 description="full fine-tuning with layer-wise learning-rate decay"),
        Strategy("post-train", "linear",
                 (Stage("probe", train_backbone=False, epoch_share=0.25),
                  Stage("finetune", train_backbone=True, epoch_share=0.75, lr_scale=0.5, drop_path_rate=0.1,
                        drop_rate=0.1)),
                 description="linear probe, then full fine-tuning from that head with stochastic depth and dropout"),
        Strategy("post-train-full", "linear",
                 (Stage("probe", train_backbone=False, epoch_share=0.25),
                  Stage("finetune", train_backbone=True, epoch_share=1.0, drop_path_rate=0.1, drop_rate=0.1)),
                 description="linear probe, then finetune's whole budget from that head with stochastic depth "
                             "and dropout"),
        Strategy("single-lead", "linear", (Stage("finetune", train_backbone=True),), single_lead=True,
                 description="fine-tune on one lead (duplicated, or alone where the encoder accepts it)"),
    )
}


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise KeyError(f"unknown strategy {name!r}; valid strategies: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]


def stage_epochs(strategy: Strategy, epochs: int) -> list[int]:
    """Split ``epochs`` across the stages by their share (at least one epoch each)."""
    return [max(1, round(epochs * s.epoch_share)) for s in strategy.stages]


def set_backbone_trainable(model: ECGModel, trainable: bool) -> None:
    for p in model.backbone_parameters():
        p.requires_grad_(trainable)
    for p in model.head_parameters():
        p.requires_grad_(True)


def backbone_modules(model: ECGModel) -> list[nn.Module]:
    """Direct children of the model other than the head (to keep them in eval mode when frozen)."""
    return [m for name, m in model.named_children() if name != "head"]


def param_groups(model: ECGModel, lr: float, weight_decay: float, layer_decay: float,
                 train_backbone: bool) -> list[dict]:
    """Optimizer groups: the head at ``lr``, backbone layer ``i`` at ``lr * layer_decay ** (L - i)``.

    Biases, norms and embeddings (1-D tensors) get no weight decay.
    """
    groups: list[dict] = []

    def add(params: list[nn.Parameter], rate: float, tag: str) -> None:
        params = [p for p in params if p.requires_grad]
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]
        if decay:
            groups.append({"params": decay, "lr": rate, "weight_decay": weight_decay, "name": f"{tag}"})
        if no_decay:
            groups.append({"params": no_decay, "lr": rate, "weight_decay": 0.0, "name": f"{tag}.no_decay"})

    if train_backbone:
        layers = model.layer_groups()
        seen: set[int] = set()
        n = len(layers)
        for i, params in enumerate(layers):
            unique = [p for p in params if id(p) not in seen]
            seen.update(id(p) for p in unique)
            add(unique, lr * layer_decay ** (n - i), f"layer{i}")
        head = {id(p) for p in model.head_parameters()}
        rest = [p for p in model.backbone_parameters() if id(p) not in seen and id(p) not in head]
        add(rest, lr * layer_decay ** n, "other")  # anything a family left out of layer_groups
    add(model.head_parameters(), lr, "head")
    return groups
