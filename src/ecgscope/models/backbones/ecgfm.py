"""ECG-FM: the wav2vec 2.0 style encoder of ECG-FM (McKeen et al. 2024), as in fairseq-signals.

Module names and shapes are those of fairseq-signals' ``ECGTransformerModel`` so a published
checkpoint maps 1:1 (see :mod:`ecgscope.models.loaders.fairseq_signals`)::

    feature_extractor.conv_layers.{0..3}   Conv1d(k=2, s=2, no bias) [+ GroupNorm(256, 256) on the first], GELU
    layer_norm                             LayerNorm(256) over conv features
    post_extract_proj                      Linear(256 -> 768)
    conv_pos.pos_conv.0                    Conv1d(768, 768, k=128, groups=16), weight norm (dim=2), SamePad, GELU
    encoder.layer_norm                     LayerNorm applied *before* the layers (post-norm transformer)
    encoder.layers.{i}                     self_attn.{q,k,v,out}_proj, self_attn_layer_norm, fc1, fc2, final_layer_norm
    head.fc                                the classifier (fairseq-signals ``proj``), after masked mean pooling

A 5-s, 500-Hz window (2500 samples) becomes 156 tokens.  ``ecgfm`` is the published size
(~90 M parameters); ``ecgfm_tiny`` runs the same code at CPU-trainable widths.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ecgscope.models._base import ECGModel
from ecgscope.models._registry import register_model
from ecgscope.models.layers.drop_path import DropPath
from ecgscope.models.pretrained import PretrainedCfg
from ecgscope.signal.contract import InputContract


@dataclass
class ECGFMConfig:
    conv_layers: tuple[tuple[int, int, int], ...] = ((256, 2, 2),) * 4  # (dim, kernel, stride)
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_dim: int = 3072
    conv_pos: int = 128
    conv_pos_groups: int = 16
    dropout: float = 0.0
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0


class ConvFeatureExtraction(nn.Module):
    """fairseq ``ConvFeatureExtraction`` in "default" mode: GroupNorm only in the first block."""

    def __init__(self, in_chans: int, layers: tuple[tuple[int, int, int], ...]):
        super().__init__()
        self.conv_layers = nn.ModuleList()
        c_in = in_chans
        for i, (dim, k, stride) in enumerate(layers):
            conv = nn.Conv1d(c_in, dim, k, stride=stride, bias=False)
            nn.init.kaiming_normal_(conv.weight)
            if i == 0:
                block = nn.Sequential(conv, nn.Dropout(0.0), nn.GroupNorm(dim, dim, affine=True), nn.GELU())
            else:
                block = nn.Sequential(conv, nn.Dropout(0.0), nn.GELU())
            self.conv_layers.append(block)
            c_in = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, D_conv, T')
        for block in self.conv_layers:
            x = block(x)
        return x


class SamePad(nn.Module):
    """Drop the extra last step an even-kernel, half-padded convolution produces."""

    def __init__(self, kernel_size: int):
        super().__init__()
        self.remove = 1 if kernel_size % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., : -self.remove] if self.remove else x


class ConvPositionalEncoding(nn.Module):
    def __init__(self, dim: int, kernel: int, groups: int):
        super().__init__()
        conv = nn.Conv1d(dim, dim, kernel_size=kernel, padding=kernel // 2, groups=groups)
        nn.init.normal_(conv.weight, mean=0.0, std=math.sqrt(4.0 / (kernel * dim)))
        nn.init.constant_(conv.bias, 0.0)
        conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
        self.pos_conv = nn.Sequential(conv, SamePad(kernel), nn.GELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        return self.pos_conv(x.transpose(1, 2)).transpose(1, 2)


class MultiheadAttention(nn.Module):
    """fairseq's self-attention parameter layout (separate q/k/v/out projections with bias)."""

    def __init__(self, dim: int, num_heads: int, dropout: float):
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, D = x.shape
        h = self.num_heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, T, h, D // h).transpose(1, 2)  # (B, h, T, d)

        mask = None if padding_mask is None else ~padding_mask[:, None, None, :]  # True = attend
        y = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)),
                                           attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(y.transpose(1, 2).reshape(B, T, D))


class TransformerEncoderLayer(nn.Module):
    """Post-norm layer (fairseq ``layer_norm_first=False``), with optional stochastic depth."""

    def __init__(self, cfg: ECGFMConfig, drop_path: float):
        super().__init__()
        d = cfg.embed_dim
        self.self_attn = MultiheadAttention(d, cfg.num_heads, cfg.attention_dropout)
        self.dropout1 = nn.Dropout(cfg.dropout)
        self.dropout2 = nn.Dropout(cfg.activation_dropout)
        self.dropout3 = nn.Dropout(cfg.dropout)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, cfg.mlp_dim)
        self.fc2 = nn.Linear(cfg.mlp_dim, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.self_attn_layer_norm(x + self.drop_path(self.dropout1(self.self_attn(x, padding_mask))))
        y = self.dropout3(self.fc2(self.dropout2(F.gelu(self.fc1(x)))))
        return self.final_layer_norm(x + self.drop_path(y))


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: ECGFMConfig, drop_path_rate: float):
        super().__init__()
        rates = [drop_path_rate * i / max(cfg.depth - 1, 1) for i in range(cfg.depth)]
        self.layers = nn.ModuleList(TransformerEncoderLayer(cfg, r) for r in rates)
        self.layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.dropout = nn.Dropout(cfg.dropout)
        self.apply(_init_bert)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        x = self.dropout(self.layer_norm(x))
        out = []
        for layer in self.layers:
            x = layer(x, padding_mask)
            out.append(x)
        return out


def _init_bert(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class ECGFM(ECGModel):
    """The ECG-FM encoder with a pluggable head (masked mean pooling + linear by default)."""

    def __init__(self, cfg: ECGFMConfig, *, in_chans: int = 12, num_classes: int = 17, head: str = "linear",
                 drop_rate: float = 0.0, drop_path_rate: float = 0.0, pretrained_cfg: PretrainedCfg | None = None):
        super().__init__(in_chans=in_chans, num_classes=num_classes, head=head, drop_rate=drop_rate,
                         pretrained_cfg=pretrained_cfg)
        self.cfg = cfg
        conv_dim = cfg.conv_layers[-1][0]
        self.feature_extractor = ConvFeatureExtraction(in_chans, cfg.conv_layers)
        self.layer_norm = nn.LayerNorm(conv_dim)
        self.post_extract_proj = nn.Linear(conv_dim, cfg.embed_dim) if conv_dim != cfg.embed_dim else None
        self.dropout_input = nn.Dropout(cfg.dropout)
        self.conv_pos = ConvPositionalEncoding(cfg.embed_dim, cfg.conv_pos, cfg.conv_pos_groups)
        self.encoder = TransformerEncoder(cfg, drop_path_rate)
        self.num_features = cfg.embed_dim
        self.layer_dims = [cfg.embed_dim] * cfg.depth
        self.build_head()

    def embed_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Conv features -> LayerNorm -> projection -> + convolutional positions: (B, T', D)."""
        f = self.layer_norm(self.feature_extractor(x).transpose(1, 2))  # (B, T', 256)
        if self.post_extract_proj is not None:
            f = self.post_extract_proj(f)  # (B, T', 768)
        f = self.dropout_input(f)
        return f + self.conv_pos(f)

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.encoder(self.embed_tokens(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_intermediates(x)[-1]

    def num_tokens(self, n_samples: int) -> int:
        for _, k, s in self.cfg.conv_layers:
            n_samples = (n_samples - k) // s + 1
        return n_samples

    def layer_groups(self) -> list[list[nn.Parameter]]:
        stem = [*self.feature_extractor.parameters(), *self.layer_norm.parameters(), *self.conv_pos.parameters(),
                *self.encoder.layer_norm.parameters()]
        if self.post_extract_proj is not None:
            stem += list(self.post_extract_proj.parameters())
        return [stem] + [list(layer.parameters()) for layer in self.encoder.layers]

    @classmethod
    def convert_checkpoint(cls, ckpt: dict, *, source: str) -> dict[str, torch.Tensor]:
        from ecgscope.models.loaders.fairseq_signals import convert_fairseq_signals

        return convert_fairseq_signals(ckpt, source=source)


def _ecgfm_cfg(published: bool) -> PretrainedCfg:
    contract = InputContract(fs=500.0, window_samples=2500, normalization="per_lead",
                             resample_method="linear" if published else "polyphase")
    if published:
        return PretrainedCfg(
            input_contract=contract, source="random init (load ECG-FM weights with pretrained=path)",
            url="https://github.com/bowang-lab/ECG-FM", license="CC BY-NC-SA 4.0 (published weights)",
            paper="McKeen et al., ECG-FM: an open electrocardiogram foundation model, 2024",
            notes="fairseq-signals wav2vec2/CMSC encoder; ECG-FM resamples with linear interpolation")
    return PretrainedCfg(input_contract=contract, notes="ECG-FM architecture at CPU size, trained with ecgscope")


def _build(cfg: ECGFMConfig, published: bool, **kw) -> ECGFM:
    for k in [k for k in kw if k in asdict(cfg)]:
        v = kw.pop(k)
        setattr(cfg, k, tuple(tuple(c) for c in v) if k == "conv_layers" else v)
    return ECGFM(cfg, pretrained_cfg=_ecgfm_cfg(published), **kw)


@register_model
def ecgfm(**kw) -> ECGFM:
    """ECG-FM encoder at the published size (4x256 conv, 12x768 post-norm transformer, ~90 M params)."""
    return _build(ECGFMConfig(), True, **kw)


@register_model
def ecgfm_tiny(**kw) -> ECGFM:
    """ECG-FM code path at CPU size (4x64 conv, 4x128 transformer)."""
    cfg = ECGFMConfig(conv_layers=((64, 2, 2),) * 4, embed_dim=128, depth=4, num_heads=4, mlp_dim=256,
                      conv_pos=32, conv_pos_groups=16)
    return _build(cfg, False, **kw)
