"""CardioMorph: three views of one ECG window, fused by cross-attention.

* **morphology** - MiniRocket features (aeon; Dempster et al. 2021): thousands of dilated
  convolution kernels with proportion-of-positive-values pooling.  Kernels' channel combinations,
  dilations and biases are *fitted on training windows* (:meth:`CardioMorph.fit_data`,
  deterministic for a seed) and kept as buffers, so a saved model carries them and reloads exactly.
  The features are projected to ``n_morph_tokens`` tokens.
* **rhythm** - heart rate and HRV descriptors from :func:`ecgscope.signal.ecg_peaks` and
  :func:`ecgscope.signal.ecg_hrv` (mean RR, SDNN, RMSSD, pNN50, SD1, SD2, beat count, with a flag
  per value that could not be measured), embedded as ``n_rhythm_tokens`` tokens.
* **context** - a strided convolution front end and bidirectional Mamba layers (``mambapy``, pure
  PyTorch, CPU) over time.

Fusion: the context tokens attend (cross-attention) to the morphology and rhythm tokens; the
fused tokens are pooled by a power mean with Q = 3 (computed in log space on softplus features)
before the multi-label head.

The morphology and rhythm streams are computed from the input with NumPy/numba and carry no
gradient to the input; their projections are trained.  MiniRocket's first call JIT-compiles
(~20 s); the compiled code is cached under ``<ecgscope cache>/numba``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ecgscope.errors import ContractError, ECGScopeError
from ecgscope.models._base import ECGModel
from ecgscope.models._registry import register_model
from ecgscope.models.layers.drop_path import DropPath
from ecgscope.models.pretrained import PretrainedCfg
from ecgscope.signal.contract import InputContract

RHYTHM_KEYS = ("heart_rate_bpm", "mean_rr_ms", "sdnn_ms", "rmssd_ms", "pnn50", "sd1_ms", "sd2_ms")
# descriptors divided by these typical magnitudes (then log1p for the spread measures) land near [0, 2]
_RHYTHM_SCALE = {"heart_rate_bpm": 100.0, "mean_rr_ms": 1000.0, "pnn50": 100.0}


@dataclass
class CardioMorphConfig:
    d_model: int = 128
    n_minirocket_features: int = 2016  # a multiple of 84 (MiniRocket's kernels)
    max_dilations_per_kernel: int = 32
    n_morph_tokens: int = 4
    n_rhythm_tokens: int = 2
    context_depth: int = 2
    # CPU budget: mambapy's parallel scan materialises (B, L, d * expand, d_state); stride 8 (12.5 tokens/s
    # at 100 Hz), expand 1 and 8 states keep a 64-window batch near a second per Mamba layer
    d_state: int = 8
    mamba_expand: int = 1
    stem_stride: int = 8
    fusion_heads: int = 4
    power_q: float = 3.0
    dropout: float = 0.1
    seed: int = 0


def _numba_env() -> None:
    """Cache numba's compiled MiniRocket under ecgscope's cache dir (before numba is imported)."""
    if "NUMBA_CACHE_DIR" not in os.environ:
        from ecgscope.config import cache_dir

        os.environ["NUMBA_CACHE_DIR"] = str(cache_dir() / "numba")


class MiniRocketFeatures(nn.Module):
    """MiniRocket transform with its fitted parameters as buffers (sizes are data-dependent)."""

    _NAMES = ("n_channels_per_combination", "channel_indices", "dilations", "n_features_per_dilation", "biases")

    def __init__(self, n_features: int, max_dilations_per_kernel: int, seed: int):
        super().__init__()
        self.n_features = 84 * (n_features // 84)
        self.max_dilations_per_kernel = max_dilations_per_kernel
        self.seed = seed
        for name in self._NAMES:
            self.register_buffer(name, torch.zeros(0, dtype=torch.float32 if name == "biases" else torch.int32))
        self.register_buffer("fitted_length", torch.zeros((), dtype=torch.int64))

    @property
    def is_fitted(self) -> bool:
        return int(self.fitted_length) > 0

    def fit(self, x: np.ndarray) -> MiniRocketFeatures:
        """Fit channel combinations, dilations and biases on windows ``x`` (B, C, T)."""
        _numba_env()
        from aeon.transformations.collection.convolution_based._minirocket import _static_fit

        x = np.ascontiguousarray(x, dtype=np.float32)
        state = np.random.get_state()  # noqa: NPY002 - aeon seeds the global generator: restore it after
        try:
            params = _static_fit(x, self.n_features, self.max_dilations_per_kernel, self.seed)
        finally:
            np.random.set_state(state)  # noqa: NPY002
        for name, value in zip(self._NAMES, params, strict=True):
            setattr(self, name, torch.from_numpy(np.ascontiguousarray(value)))
        self.fitted_length = torch.tensor(x.shape[-1], dtype=torch.int64)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, F)
        if not self.is_fitted:
            raise ContractError("CardioMorph's MiniRocket kernels are not fitted: call model.fit_data(train_windows)")
        _numba_env()
        from aeon.transformations.collection.convolution_based._minirocket import (
            MiniRocket,
            _static_transform_multi,
            _static_transform_uni,
        )

        arr = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        params = tuple(getattr(self, n).numpy() for n in self._NAMES)
        if arr.shape[1] == 1:
            feats = _static_transform_uni(arr[:, 0], params, MiniRocket._indices)
        else:
            feats = _static_transform_multi(arr, params, MiniRocket._indices)
        return torch.from_numpy(np.asarray(feats, dtype=np.float32)).to(x.device)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # fitted buffers take the checkpoint's sizes
        for name in (*self._NAMES, "fitted_length"):
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def rhythm_descriptors(x: np.ndarray, fs: float) -> np.ndarray:
    """(B, C, T) windows -> (B, 2 * 7 + 1) scaled HRV descriptors, availability flags, beat count."""
    from ecgscope.signal import ecg_hrv, ecg_peaks

    out = np.zeros((x.shape[0], 2 * len(RHYTHM_KEYS) + 1), dtype=np.float32)
    window_s = x.shape[-1] / fs
    for b in range(x.shape[0]):
        try:
            peaks = ecg_peaks(x[b], fs)
            hrv = ecg_hrv(peaks, fs) if len(peaks) >= 2 else {}
        except (ECGScopeError, ValueError):  # a flat or broken window has no rhythm to describe
            peaks, hrv = np.zeros(0), {}
        for j, key in enumerate(RHYTHM_KEYS):
            v = hrv.get(key)
            if v is None:
                continue
            out[b, j] = v / _RHYTHM_SCALE[key] if key in _RHYTHM_SCALE else np.log1p(max(float(v), 0.0)) / 5.0
            out[b, len(RHYTHM_KEYS) + j] = 1.0
        out[b, -1] = len(peaks) / (3.0 * window_s)  # beats per window, 180 bpm -> 1
    return out


class BiMambaLayer(nn.Module):
    """Mamba over time in both directions, summed, in a pre-norm residual block."""

    def __init__(self, d: int, d_state: int, expand: int, drop_path: float):
        super().__init__()
        from mambapy.mamba import MambaBlock, MambaConfig

        cfg = MambaConfig(d_model=d, n_layers=1, d_state=d_state, expand_factor=expand)
        self.norm = nn.LayerNorm(d)
        self.fwd = MambaBlock(cfg)
        self.bwd = MambaBlock(cfg)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D)
        z = self.norm(x)
        y = self.fwd(z) + self.bwd(z.flip(1)).flip(1)
        return x + self.drop_path(y)


class CrossAttentionFusion(nn.Module):
    """Context tokens (queries) attend to morphology + rhythm tokens; residual, then an MLP."""

    def __init__(self, d: int, heads: int, dropout: float, drop_path: float):
        super().__init__()
        self.norm_q = nn.LayerNorm(d)
        self.norm_kv = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm_mlp = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * d, d))
        self.drop_path = DropPath(drop_path)

    def forward(self, context: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        kv = self.norm_kv(memory)
        y, _ = self.attn(self.norm_q(context), kv, kv, need_weights=False)
        x = context + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm_mlp(x)))


class CardioMorph(ECGModel):
    requires_fit = True
    default_pool = "powermean"
    resizable_buffers = tuple(f"morph.{n}" for n in (*MiniRocketFeatures._NAMES, "fitted_length"))

    def __init__(self, cfg: CardioMorphConfig, *, in_chans: int = 12, num_classes: int = 17, head: str = "linear",
                 drop_rate: float = 0.0, drop_path_rate: float = 0.0, pretrained_cfg: PretrainedCfg | None = None):
        super().__init__(in_chans=in_chans, num_classes=num_classes, head=head, drop_rate=drop_rate,
                         pretrained_cfg=pretrained_cfg)
        self.cfg = cfg
        d = cfg.d_model
        # morphology
        self.morph = MiniRocketFeatures(cfg.n_minirocket_features, cfg.max_dilations_per_kernel, cfg.seed)
        self.morph_proj = nn.Sequential(nn.LayerNorm(self.morph.n_features), nn.Dropout(cfg.dropout),
                                        nn.Linear(self.morph.n_features, d * cfg.n_morph_tokens))
        # rhythm
        n_rhythm = 2 * len(RHYTHM_KEYS) + 1
        self.rhythm_proj = nn.Sequential(nn.Linear(n_rhythm, d), nn.GELU(), nn.Linear(d, d * cfg.n_rhythm_tokens))
        self.stream_embed = nn.Parameter(torch.zeros(2, d))  # tells the fusion which stream a token is from
        # context
        s = cfg.stem_stride
        self.stem = nn.Sequential(nn.Conv1d(in_chans, d // 2, 2 * s + 1, stride=s // 2 or 1, padding=s),
                                  nn.GroupNorm(1, d // 2), nn.GELU(),
                                  nn.Conv1d(d // 2, d, 5, stride=2 if s > 1 else 1, padding=2), nn.GELU())
        n_layers = cfg.context_depth + 1
        rates = [drop_path_rate * i / max(n_layers - 1, 1) for i in range(n_layers)]
        self.context = nn.ModuleList(BiMambaLayer(d, cfg.d_state, cfg.mamba_expand, r) for r in rates[:-1])
        self.fusion = CrossAttentionFusion(d, cfg.fusion_heads, cfg.dropout, rates[-1])
        self.norm = nn.LayerNorm(d)
        self.num_features = d
        self.layer_dims = [d] * n_layers
        self.build_head()

    # ------------------------------------------------------------------ data-dependent state
    def fit_data(self, x: np.ndarray) -> CardioMorph:
        """Fit MiniRocket on training windows (B, C, T) (a few hundred are plenty)."""
        self.morph.fit(np.asarray(x, dtype=np.float32))
        return self

    @property
    def is_fitted(self) -> bool:
        return self.morph.is_fitted

    # ------------------------------------------------------------------ forward
    def _memory(self, x: torch.Tensor) -> torch.Tensor:
        B, d = x.shape[0], self.cfg.d_model
        with torch.no_grad():
            mr = self.morph(x)  # (B, F) in [0, 1]
            rh = torch.from_numpy(rhythm_descriptors(x.detach().cpu().numpy(),
                                                     self.pretrained_cfg.input_contract.fs)).to(x.device)  # (B, 15)
        morph = self.morph_proj(mr).view(B, self.cfg.n_morph_tokens, d) + self.stream_embed[0]
        rhythm = self.rhythm_proj(rh).view(B, self.cfg.n_rhythm_tokens, d) + self.stream_embed[1]
        return torch.cat([morph, rhythm], dim=1)  # (B, Km + Kr, d)

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        memory = self._memory(x)
        t = self.stem(x).transpose(1, 2)  # (B, T', d)
        out = []
        for layer in self.context:
            t = layer(t)
            out.append(t)
        out.append(self.norm(self.fusion(t, memory)))  # (B, T', d)
        return out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_intermediates(x)[-1]

    def layer_groups(self) -> list[list[nn.Parameter]]:
        stem = [*self.stem.parameters(), *self.morph_proj.parameters(), *self.rhythm_proj.parameters(),
                self.stream_embed]
        groups = [stem] + [list(layer.parameters()) for layer in self.context]
        groups.append([*self.fusion.parameters(), *self.norm.parameters()])
        return groups


@register_model
def cardiomorph(**kw) -> CardioMorph:
    """MiniRocket morphology + HRV rhythm + bidirectional Mamba context, cross-attention fusion, power-mean pooling."""
    cfg = CardioMorphConfig()
    for k in [k for k in kw if k in asdict(cfg)]:
        setattr(cfg, k, kw.pop(k))
    pcfg = PretrainedCfg(input_contract=InputContract(fs=100.0, window_samples=500), notes="trained with ecgscope")
    return CardioMorph(cfg, pretrained_cfg=pcfg, **kw)
