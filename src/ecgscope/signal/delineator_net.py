"""The learned delineator: a small 1-D U-Net that labels every sample P, QRS, T or background.

Design for speed on one CPU core (a 10-s 12-lead record in a few ms):

* every lead is resampled to 250 Hz (4 ms per sample) and the 12 leads run as one batch;
* skip connections add (after a 1x1 projection at the coarse rate) instead of concatenating, so every
  decoder convolution is c -> c channels (a quarter cheaper than the concatenating U-Net at the
  same accuracy on LUDB's validation fold);
* the stem is a stride-2 convolution, so the U-Net itself works at 125 Hz; the "light" head (shipped)
  makes the logits with a transposed convolution back to 250 Hz and adds a small convolution of the
  250 Hz input, with no wide convolution at 250 Hz (the "conv" head, upsampled features concatenated
  with the input and convolved, costs ~30 % more time for no better accuracy on LUDB's validation
  fold, as do kernels of 7 instead of 5);
* five resolutions (125 Hz down to ~8 Hz) give a receptive field of several seconds, enough to tell a
  P wave from a T wave by the QRS complexes around it.

Each lead is segmented with two input channels: the lead itself and a *context* channel, the RMS over
all the record's leads (for a single-lead record, the magnitude of that lead).  Wave boundaries that a
cardiologist places while looking at all leads can then be found in a lead where the wave is faint.

:func:`~ecgscope.signal.delineator_runtime.delineator_input` is the one preprocessing used by both
training and inference; inference itself runs through :mod:`ecgscope.signal.delineator_runtime`
(ONNX Runtime on the exported graph when it is installed, else this module's PyTorch model).
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ecgscope.signal.delineator_runtime import CLASSES, MODEL_FS, shipped_weights


@dataclass(frozen=True)
class DelineatorConfig:
    channels: tuple[int, ...] = (8, 16, 24, 32, 48)  # per resolution, 125 Hz first
    kernel_size: int = 5
    decoder_convs: int = 1  # convolutions per decoder level (the encoder has 2)
    skip: str = "add"  # "add": project the coarser level to the skip's width and add; "concat" (U-Net)
    head: str = "light"  # "light": transposed-conv logits + a conv of the input; "conv": see the module docstring
    in_channels: int = 2  # lead + all-lead context
    n_classes: int = len(CLASSES)
    fs: float = MODEL_FS


def _convs(c_in: int, c_out: int, k: int, n: int = 2) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Conv1d(c_in if i == 0 else c_out, c_out, k, padding=k // 2, bias=False),
                   nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class DelineatorUNet(nn.Module):
    """(B, 2, T) at 250 Hz -> (B, 4, T) class logits.

    The forward pass also runs on (B, 2, 1, T) once :func:`conv1d_to_conv2d` has turned the
    convolutions into (1, k) 2-D ones: that is the form exported to ONNX (see there).
    """

    def __init__(self, config: DelineatorConfig | None = None):
        super().__init__()
        self.config = cfg = config or DelineatorConfig()
        ch, k = cfg.channels, cfg.kernel_size
        self.stem = nn.Sequential(  # 250 -> 125 Hz
            nn.Conv1d(cfg.in_channels, ch[0], k, stride=2, padding=k // 2, bias=False),
            nn.BatchNorm1d(ch[0]), nn.ReLU(inplace=True),
        )
        self.down = nn.ModuleList(
            [_convs(ch[0], ch[0], k)] + [_convs(ch[i - 1], ch[i], k) for i in range(1, len(ch))]
        )
        if cfg.skip not in ("concat", "add"):
            raise ValueError(f"unknown skip {cfg.skip!r}; valid: concat, add")
        levels = range(len(ch) - 2, -1, -1)
        if cfg.skip == "concat":
            self.up = nn.ModuleList([_convs(ch[i + 1] + ch[i], ch[i], k, cfg.decoder_convs) for i in levels])
            self.proj = nn.ModuleList([nn.Identity() for _ in levels])
        else:  # 1x1 projection at the coarse rate, then add: the decoder convolutions stay c -> c
            self.up = nn.ModuleList([_convs(ch[i], ch[i], k, cfg.decoder_convs) for i in levels])
            self.proj = nn.ModuleList([nn.Conv1d(ch[i + 1], ch[i], 1) for i in levels])
        if cfg.head == "conv":
            self.to_full = nn.ConvTranspose1d(ch[0], ch[0], 4, stride=2, padding=1)  # 125 -> 250 Hz
            self.head = nn.Sequential(
                nn.Conv1d(ch[0] + cfg.in_channels, ch[0], 5, padding=2), nn.ReLU(inplace=True),
                nn.Conv1d(ch[0], cfg.n_classes, 1),
            )
        elif cfg.head == "light":
            # the logits straight from the transposed convolution, plus a small convolution of the 250 Hz
            # input: no c0-channel convolution at 250 Hz (~20 % of the network's time on one core)
            self.to_full = nn.ConvTranspose1d(ch[0], cfg.n_classes, 4, stride=2, padding=1)
            self.head = nn.Conv1d(cfg.in_channels, cfg.n_classes, 5, padding=2)
        else:
            raise ValueError(f"unknown head {cfg.head!r}; valid: conv, light")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[-1]
        h = self.stem(x)  # (B, c0, T/2)
        skips = []
        for i, block in enumerate(self.down):
            if i:  # (B, c, [1,] T/2^(i+1))
                h = F.max_pool1d(h, 2, ceil_mode=True) if h.dim() == 3 else F.max_pool2d(h, (1, 2), ceil_mode=True)
            h = block(h)
            skips.append(h)
        skips.pop()
        for block, proj in zip(self.up, self.proj, strict=True):
            skip = skips.pop()
            h = F.interpolate(proj(h), size=skip.shape[2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1) if self.config.skip == "concat" else h + skip)
        h = self.to_full(h)[..., :t]  # (B, c0 or 4, [1,] T)
        if h.shape[-1] < t:
            h = F.pad(h, (0, t - h.shape[-1]))
        if self.config.head == "light":
            return h + self.head(x)  # (B, 4, [1,] T)
        return self.head(torch.cat([h, x], dim=1))  # (B, 4, [1,] T)


def fuse_batchnorm(model: DelineatorUNet) -> DelineatorUNet:
    """The model in eval mode with every Conv-BatchNorm pair folded into one convolution (in place)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model.eval()
    for seq in model.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        for i in range(len(seq) - 1):
            if isinstance(seq[i], nn.Conv1d) and isinstance(seq[i + 1], nn.BatchNorm1d):
                seq[i] = fuse_conv_bn_eval(seq[i], seq[i + 1])
                seq[i + 1] = nn.Identity()
    return model


def conv1d_to_conv2d(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every 1-D (transposed) convolution turned into the same 2-D one with a
    (1, k) kernel: the same arithmetic on (B, C, 1, T) input.

    Why: ONNX Runtime's CPU kernels for 2-D convolutions (blocked NCHWc layout) are much faster than
    its 1-D ones: the shipped delineator on a 10-s 12-lead record takes ~8 ms instead of ~12.5 ms.
    """
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, m in parent.named_children():
            if type(m) is nn.Conv1d:
                new = nn.Conv2d(m.in_channels, m.out_channels, (1, m.kernel_size[0]), stride=(1, m.stride[0]),
                                padding=(0, m.padding[0]), dilation=(1, m.dilation[0]), groups=m.groups,
                                bias=m.bias is not None)
            elif type(m) is nn.ConvTranspose1d:
                new = nn.ConvTranspose2d(m.in_channels, m.out_channels, (1, m.kernel_size[0]),
                                         stride=(1, m.stride[0]), padding=(0, m.padding[0]),
                                         output_padding=(0, m.output_padding[0]), groups=m.groups,
                                         bias=m.bias is not None, dilation=(1, m.dilation[0]))
            else:
                continue
            with torch.no_grad():
                new.weight.copy_(m.weight.unsqueeze(2))  # (out, in, k) -> (out, in, 1, k)
                if m.bias is not None:
                    new.bias.copy_(m.bias)
            setattr(parent, name, new)
    return model


@dataclass
class DelineatorWeights:
    """What the weights file holds besides the state dict: the config and how it was trained."""

    config: DelineatorConfig
    training: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"config": asdict(self.config), "training": self.training})


def save_delineator(model: DelineatorUNet, path: str, training: dict) -> None:
    meta = DelineatorWeights(model.config, training)
    state = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save({"meta": meta.to_json(), "state_dict": state}, path)


@lru_cache(maxsize=4)
def load_delineator(path: str | None = None) -> tuple[DelineatorUNet, dict]:
    """The shipped (or given) weights as an inference model with BatchNorm folded, and its metadata
    (cached: one load per path and process)."""
    blob = torch.load(shipped_weights() if path is None else path, map_location="cpu", weights_only=True)
    meta = json.loads(blob["meta"])
    cfg = meta["config"]
    cfg["channels"] = tuple(cfg["channels"])
    cfg.setdefault("head", "conv")  # weights saved before the head was configurable all had the conv head
    model = DelineatorUNet(DelineatorConfig(**cfg))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    return fuse_batchnorm(model), meta


def export_delineator_onnx(pt_path: str | None = None, onnx_path: str | None = None) -> str:
    """Export delineator weights (default: the shipped ones) to an ONNX graph next to them.

    Batch (leads) and time are dynamic axes; the graph is the BatchNorm-folded inference model with
    2-D (1, k) convolutions (:func:`conv1d_to_conv2d`), so it takes (L, 2, 1, T) and gives the PyTorch
    model's logits as (L, 4, 1, T) to ~1e-5.  The shipped ``delineator_unet.onnx`` was written by
    ``python -c "from ecgscope.signal.delineator_net import export_delineator_onnx as e; e()"``.
    """
    src = shipped_weights() if pt_path is None else Path(pt_path)
    dst = Path(onnx_path) if onnx_path else src.with_suffix(".onnx")
    model, _ = load_delineator(None if pt_path is None else str(pt_path))
    model = conv1d_to_conv2d(model).eval()
    example = torch.zeros(2, model.config.in_channels, 1, 2500)
    with warnings.catch_warnings():  # the tracer's notes on shape-dependent branches: handled by dynamic axes
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(dst), dynamo=False, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "leads", 3: "time"}, "logits": {0: "leads", 3: "time"}},
                          opset_version=17)
    return str(dst)
