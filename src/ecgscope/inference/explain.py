"""Per-label saliency over time, aligned with the signal (for the dashboard's overlay).

Two methods:

``gradcam``
    Grad-CAM on the backbone's last layer (the tokens of ``forward_features``, the last conv/SSM/transformer
    block for every ecgscope backbone): token weights are the time-averaged gradients of the label's logit,
    the map is ReLU(sum over channels of weight x activation), linearly upsampled to the window's samples.
    One forward and one backward pass per label.  Computed with captum's ``LayerGradCam`` on a view of the
    features with channels first.
``integrated_gradients``
    captum's Integrated Gradients from an all-zero baseline (the mean of a z-scored lead), summed over leads
    as |attribution|; ``n_steps`` forward/backward passes per label.

Maps are stitched along the record's windows and scaled so each label's maximum over the record is 1.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

SALIENCY_METHODS = ("gradcam", "integrated_gradients")


class _ChannelsFirstFeatures(nn.Module):
    """forward_features as a (B, D, T') module, so captum's LayerGradCam averages over time."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x).transpose(1, 2)


class _GradCamModel(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.features = _ChannelsFirstFeatures(model)
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.features(x).transpose(1, 2))


def window_saliency(model: nn.Module, windows: np.ndarray, label_indices: list[int], method: str = "gradcam",
                    n_steps: int = 32) -> np.ndarray:
    """(n_labels, n_windows, window_samples) non-negative saliency for ``label_indices``."""
    from captum.attr import IntegratedGradients, LayerGradCam

    if method not in SALIENCY_METHODS:
        raise ValueError(f"unknown saliency method {method!r}; valid methods: {', '.join(SALIENCY_METHODS)}")
    if getattr(model, "uses_intermediates", False) and method == "gradcam":
        method = "integrated_gradients"  # layer-fusion heads read every layer: one layer's CAM would mislead
    x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))
    n_win, _, n_samp = x.shape
    out = np.zeros((len(label_indices), n_win, n_samp), dtype=np.float32)
    model.eval()
    with torch.enable_grad():
        if method == "gradcam":
            wrapped = _GradCamModel(model).eval()
            cam = LayerGradCam(wrapped, wrapped.features)
            for k, j in enumerate(label_indices):
                a = cam.attribute(x, target=int(j), relu_attributions=True)  # (W, 1, T')
                a = torch.nn.functional.interpolate(a, size=n_samp, mode="linear", align_corners=False)
                out[k] = a[:, 0].detach().numpy()
        else:
            ig = IntegratedGradients(model)
            for k, j in enumerate(label_indices):
                a = ig.attribute(x, baselines=torch.zeros_like(x), target=int(j), n_steps=n_steps)
                out[k] = a.abs().sum(dim=1).detach().numpy()
    return out


def stitch(maps: np.ndarray, starts: np.ndarray, n_samples: int) -> np.ndarray:
    """Place (n_labels, n_windows, T) window maps on the record's time axis; each label scaled to max 1."""
    n_labels, _, size = maps.shape
    out = np.zeros((n_labels, n_samples), dtype=np.float32)
    for w, s in enumerate(np.asarray(starts, dtype=np.int64)):
        e = min(n_samples, s + size)
        out[:, s:e] = np.maximum(out[:, s:e], maps[:, w, : e - s])
    peak = out.max(axis=1, keepdims=True)
    return np.divide(out, peak, out=np.zeros_like(out), where=peak > 0)
