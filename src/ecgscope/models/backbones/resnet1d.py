"""xresnet1d: the supervised 1-D ResNet baseline of the PTB-XL benchmark (Strodthoff et al. 2021).

"Bag of tricks" ResNet (He et al. 2019) in 1-D: a three-convolution stem, bottleneck blocks whose
shortcut downsamples with average pooling before the 1x1 convolution, and the last BatchNorm of
every residual branch initialised to zero so each block starts as the identity.  Kernel size 5
(the benchmark's choice for ECGs).  ``resnet1d`` is xresnet1d50's layout (3-4-6-3 bottlenecks).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ecgscope.models._base import ECGModel
from ecgscope.models._registry import register_model
from ecgscope.models.layers.drop_path import DropPath
from ecgscope.models.pretrained import PretrainedCfg
from ecgscope.signal.contract import InputContract


@dataclass
class ResNet1dConfig:
    layers: tuple[int, ...] = (3, 4, 6, 3)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    stem_widths: tuple[int, ...] = (32, 32, 64)
    expansion: int = 4
    kernel_size: int = 5


def conv_bn(c_in: int, c_out: int, k: int, stride: int = 1, zero_bn: bool = False, act: bool = True) -> nn.Sequential:
    bn = nn.BatchNorm1d(c_out)
    nn.init.constant_(bn.weight, 0.0 if zero_bn else 1.0)
    layers: list[nn.Module] = [nn.Conv1d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False), bn]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    def __init__(self, c_in: int, width: int, expansion: int, stride: int, k: int, drop_path: float):
        super().__init__()
        c_out = width * expansion
        self.convs = nn.Sequential(
            conv_bn(c_in, width, 1),
            conv_bn(width, width, k, stride=stride),
            conv_bn(width, c_out, 1, zero_bn=True, act=False),
        )
        shortcut: list[nn.Module] = []
        if stride != 1:
            shortcut.append(nn.AvgPool1d(stride, stride, ceil_mode=True))
        if c_in != c_out:
            shortcut.append(conv_bn(c_in, c_out, 1, act=False))
        self.shortcut = nn.Sequential(*shortcut)
        self.drop_path = DropPath(drop_path)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        return self.act(self.drop_path(self.convs(x)) + self.shortcut(x))


class ResNet1d(ECGModel):
    """xresnet1d with stage outputs as intermediates (widths differ: fusion heads project them)."""

    def __init__(self, cfg: ResNet1dConfig, *, in_chans: int = 12, num_classes: int = 17, head: str = "linear",
                 drop_rate: float = 0.0, drop_path_rate: float = 0.0, pretrained_cfg: PretrainedCfg | None = None):
        super().__init__(in_chans=in_chans, num_classes=num_classes, head=head, drop_rate=drop_rate,
                         pretrained_cfg=pretrained_cfg)
        self.cfg = cfg
        k = cfg.kernel_size
        sw = (in_chans, *cfg.stem_widths)
        self.stem = nn.Sequential(
            *[conv_bn(sw[i], sw[i + 1], k, stride=2 if i == 0 else 1) for i in range(len(cfg.stem_widths))],
            nn.MaxPool1d(3, stride=2, padding=1),
        )
        n_blocks = sum(cfg.layers)
        rates = iter([drop_path_rate * i / max(n_blocks - 1, 1) for i in range(n_blocks)])
        c_in = cfg.stem_widths[-1]
        stages = []
        for i, (n, w) in enumerate(zip(cfg.layers, cfg.widths, strict=True)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(Bottleneck(c_in, w, cfg.expansion, stride, k, next(rates)))
                c_in = w * cfg.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.num_features = c_in
        self.layer_dims = [w * cfg.expansion for w in cfg.widths]
        self.build_head()

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)  # (B, C0, T/4)
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x.transpose(1, 2))  # (B, T_s, C_s)
        return out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x.transpose(1, 2)  # (B, T/32, C)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        return [list(self.stem.parameters())] + [list(s.parameters()) for s in self.stages]


def _build(cfg: ResNet1dConfig, **kw) -> ResNet1d:
    for k in [k for k in kw if k in asdict(cfg)]:
        v = kw.pop(k)
        setattr(cfg, k, tuple(v) if isinstance(v, list) else v)
    pcfg = PretrainedCfg(input_contract=InputContract(fs=100.0, window_samples=500), notes="trained with ecgscope")
    return ResNet1d(cfg, pretrained_cfg=pcfg, **kw)


@register_model
def resnet1d(**kw) -> ResNet1d:
    """xresnet1d50 layout (3-4-6-3 bottlenecks, kernel 5): the PTB-XL benchmark's supervised baseline."""
    return _build(ResNet1dConfig(), **kw)


@register_model
def resnet1d_small(**kw) -> ResNet1d:
    """Narrow xresnet1d (2-2-2-2 bottlenecks, widths 32-256, expansion 2) for CPU training."""
    return _build(ResNet1dConfig(layers=(2, 2, 2, 2), widths=(32, 64, 128, 256), expansion=2), **kw)


@register_model
def resnet1d_tiny(**kw) -> ResNet1d:
    """Two-stage narrow xresnet1d for tests."""
    return _build(ResNet1dConfig(layers=(1, 1), widths=(16, 32), stem_widths=(8, 8, 16), expansion=2), **kw)
