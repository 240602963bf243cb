"""Hybrid models: a learned backbone plus hand-made signal statistics computed inside the network.

PTB-XL's "Poor data quality" label (burst noise, electrode problems) has about 125 positives in
the training folds: too few for a network to learn what noise looks like, while simple
statistics of the signal separate it well.  :class:`SignalStatistics` computes them from the
model's own (normalised) input window with plain tensor operations, so the whole model still
exports to ONNX and the Analyzer needs no extra code:

* per lead: relative first/second-difference energy (high-frequency noise), baseline-wander
  energy (0.5-s moving average), window RMS, peak |x|, kurtosis, burstiness of the local
  high-frequency energy (max / mean over 0.25-s frames), spread of the local amplitude
  (max / min RMS over 1-s frames, a flat or detached lead) and the share of flat samples;
* across leads: the 66 pairwise lead correlations (electrode swaps and detached leads break the
  usual pattern; the heart's electrical axis shows in them too);
* rhythm: autocorrelation of the multi-lead high-frequency envelope at lags 0.3-2 s (its maximum
  is high for a regular rhythm and low for atrial fibrillation), and its mean.

The statistics are standardised with means/deviations fitted on training windows
(:meth:`Hybrid.fit_data`, stored as buffers in the bundle) and appended to every token of the
backbone's last layer, so any head (linear, attention, layer fusion) sees them after pooling.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecgscope.models._base import ECGModel
from ecgscope.models._registry import create_model, register_model

_EPS = 1e-6


def _rms(x: torch.Tensor) -> torch.Tensor:
    return torch.sqrt((x * x).mean(dim=-1) + _EPS)


def _moving_mean(x: torch.Tensor, size: int, stride: int = 1) -> torch.Tensor:
    """(B, C, T) moving average (valid part only) with an odd or even ``size``."""
    size = max(1, min(size, x.shape[-1]))
    return F.avg_pool1d(x, kernel_size=size, stride=max(1, stride))


def constant_safe_std(std: torch.Tensor, floor: float = 1e-3) -> torch.Tensor:
    """Standardisation scales: 1 for statistics (nearly) constant on the training windows.

    A constant statistic (the lead correlations of a single lead copied into every channel) carries
    no information; dividing by its tiny spread would blow float rounding (ONNX vs PyTorch) up into
    the logits.
    """
    return torch.where(std < floor, torch.ones_like(std), std)


class SignalStatistics(nn.Module):
    """Standardised signal-quality, lead-correlation and rhythm statistics of (B, C, T) windows.

    Parameters
    ----------
    in_chans : int
        Leads of the input.
    fs : float
        Sampling rate of the input (the frame lengths are in seconds).
    """

    def __init__(self, in_chans: int, fs: float):
        super().__init__()
        self.in_chans = int(in_chans)
        self.fs = float(fs)
        n = self.num_features
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        iu = torch.triu_indices(self.in_chans, self.in_chans, offset=1)
        self.register_buffer("pair_index", iu[0] * self.in_chans + iu[1], persistent=False)

    PER_LEAD = 9
    RHYTHM = 2

    @property
    def num_features(self) -> int:
        c = self.in_chans
        return self.PER_LEAD * c + c * (c - 1) // 2 + self.RHYTHM

    def _lags(self, envelope_fs: float) -> tuple[int, int]:
        return max(1, int(round(0.3 * envelope_fs))), max(2, int(round(2.0 * envelope_fs)))

    @torch.no_grad()
    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, num_features) unstandardised statistics."""
        x = x.float()
        b, c, t = x.shape
        fs = self.fs
        centred = x - x.mean(dim=-1, keepdim=True)
        rms = _rms(centred)  # (B, C)
        d1 = x[..., 1:] - x[..., :-1]
        d2 = d1[..., 1:] - d1[..., :-1]
        baseline = _moving_mean(x, int(round(0.5 * fs)))
        baseline = baseline - baseline.mean(dim=-1, keepdim=True)
        hf_frames = _moving_mean(d1 * d1, int(round(0.25 * fs)), int(round(0.125 * fs)))  # (B, C, frames)
        amp_frames = torch.sqrt(_moving_mean(centred * centred, int(round(1.0 * fs)), int(round(0.5 * fs))) + _EPS)
        z = centred / rms.unsqueeze(-1)
        kurtosis = (z**4).mean(dim=-1)
        flat = (d1.abs() < 1e-3 * rms.unsqueeze(-1)).float().mean(dim=-1)
        per_lead = torch.stack([
            torch.log(_rms(d1) / rms + _EPS),
            torch.log(_rms(d2) / rms + _EPS),
            torch.log(_rms(baseline) / rms + _EPS),
            torch.log(rms + _EPS),
            torch.log(z.abs().amax(dim=-1) + _EPS),
            torch.log(kurtosis + _EPS),
            torch.log(hf_frames.amax(dim=-1) / (hf_frames.mean(dim=-1) + _EPS) + _EPS),
            torch.log(amp_frames.amax(dim=-1) / (amp_frames.amin(dim=-1) + _EPS) + _EPS),
            flat,
        ], dim=-1)  # (B, C, PER_LEAD)
        corr = torch.matmul(z, z.transpose(1, 2)) / t  # (B, C, C)
        pairs = corr.reshape(b, c * c)[:, self.pair_index]
        # rhythm: the high-frequency envelope (QRS complexes) at ~25 Hz, autocorrelated over plausible RR lags
        step = max(1, int(round(fs / 25.0)))
        envelope = _moving_mean((d1 / rms.unsqueeze(-1)).abs().mean(dim=1, keepdim=True), step, step)[:, 0]
        envelope = envelope - envelope.mean(dim=-1, keepdim=True)
        lo, hi = self._lags(fs / step)
        hi = min(hi, envelope.shape[-1] - 2)
        energy = (envelope * envelope).mean(dim=-1) + _EPS
        if hi >= lo:
            ac = torch.stack([(envelope[:, k:] * envelope[:, :-k]).mean(dim=-1) for k in range(lo, hi + 1)], dim=-1)
            ac = ac / energy.unsqueeze(-1)
            rhythm = torch.stack([ac.amax(dim=-1), ac.mean(dim=-1)], dim=-1)
        else:  # a window too short for RR lags
            rhythm = torch.zeros(b, self.RHYTHM, dtype=x.dtype, device=x.device)
        return torch.cat([per_lead.reshape(b, -1), pairs, rhythm], dim=-1)

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Standardisation constants from training windows (B, C, T)."""
        s = self.raw(x)
        self.mean.copy_(s.mean(dim=0))
        self.std.copy_(constant_safe_std(s.std(dim=0)))
        self.fitted.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((self.raw(x) - self.mean) / self.std).clamp(-8.0, 8.0)


class Hybrid(ECGModel):
    """A registered backbone whose last-layer tokens carry :class:`SignalStatistics` as extra channels.

    Parameters
    ----------
    backbone : str
        Registered model name of the learned part (its own head is not used).
    **backbone_kwargs
        Passed to that model (``drop_path_rate``, family options...).
    """

    requires_fit = True

    def __init__(self, backbone: str, *, in_chans: int = 12, num_classes: int = 17, head: str = "linear",
                 drop_rate: float = 0.0, **backbone_kwargs):
        inner = create_model(backbone, num_classes=0, in_chans=in_chans, **backbone_kwargs)
        super().__init__(in_chans=in_chans, num_classes=num_classes, head=head, drop_rate=drop_rate,
                         pretrained_cfg=inner.pretrained_cfg)
        self.backbone = inner
        self.default_pool = inner.default_pool
        self.stats = SignalStatistics(in_chans, inner.pretrained_cfg.input_contract.fs)
        extra = self.stats.num_features
        self.num_features = inner.num_features + extra
        self.layer_dims = [*inner.layer_dims[:-1], inner.layer_dims[-1] + extra]
        self.build_head()

    def _append(self, tokens: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        s = self.stats(x).to(tokens.dtype)
        return torch.cat([tokens, s.unsqueeze(1).expand(-1, tokens.shape[1], -1)], dim=-1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self._append(self.backbone.forward_features(x), x)

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.backbone.forward_intermediates(x)
        return [*feats[:-1], self._append(feats[-1], x)]

    def forward_grid(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_grid(x)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        return self.backbone.layer_groups()

    def fit_data(self, x: np.ndarray) -> Hybrid:
        self.stats.fit(torch.as_tensor(np.asarray(x), dtype=torch.float32))
        return self

    @property
    def is_fitted(self) -> bool:
        return bool(self.stats.fitted)


@register_model
def ssm_hybrid(**kw) -> Hybrid:
    """The ``ssm`` backbone plus in-network signal-quality, lead-correlation and rhythm statistics."""
    return Hybrid("ssm", **kw)


@register_model
def resnet1d_small_hybrid(**kw) -> Hybrid:
    """``resnet1d_small`` plus in-network signal-quality, lead-correlation and rhythm statistics."""
    return Hybrid("resnet1d_small", **kw)
