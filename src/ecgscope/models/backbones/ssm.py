"""Compact structured state-space model (the default small backbone).

In the spirit of ECG-CPC (Al-Masud et al.): a strided convolutional front end turns the raw
12-lead window into tokens, then S4D layers (diagonal state-space models, Gu et al. 2022) mix
information along time.  Each S4D layer is bidirectional (one kernel running forward, one
backward), applied as a long convolution through the FFT, so a 10-s window costs
O(T log T) per channel on a CPU.

Block (pre-norm, residual)::

    x = x + drop_path(GLU(W * gelu(S4D(LN(x)))))
    x = x + drop_path(MLP(LN(x)))

``ssm`` (~0.6 M parameters) is the default; ``ssm_tiny`` is for tests.
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
class SSMConfig:
    d_model: int = 128
    depth: int = 4
    d_state: int = 64  # N: complex states per channel are N/2 conjugate pairs
    stem_stride: tuple[int, ...] = (2, 2)
    mlp_ratio: float = 2.0
    dt_min: float = 0.001
    dt_max: float = 0.1
    dropout: float = 0.0  # post-training / set_regularization turn it on


class S4DKernel(nn.Module):
    """Convolution kernel of ``channels`` diagonal SSMs (S4D-Lin initialisation).

    ``K[h, l] = 2 Re( sum_n C[h,n] (exp(dt A[h,n]) - 1) / A[h,n] * exp(dt A[h,n] l) )``
    """

    def __init__(self, channels: int, d_state: int, dt_min: float, dt_max: float):
        super().__init__()
        n = d_state // 2
        log_dt = torch.rand(channels) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)  # (H,)
        self.C = nn.Parameter(torch.view_as_real(torch.randn(channels, n, dtype=torch.cfloat) * 0.5**0.5))  # (H, n, 2)
        self.log_A_real = nn.Parameter(torch.log(0.5 * torch.ones(channels, n)))  # (H, n)
        self.A_imag = nn.Parameter(math.pi * torch.arange(n, dtype=torch.float32).repeat(channels, 1))  # (H, n)

    def forward(self, length: int) -> torch.Tensor:
        dt = torch.exp(self.log_dt).unsqueeze(-1)  # (H, 1)
        a_re, a_im = -torch.exp(self.log_A_real), self.A_imag  # A = a_re + i a_im, (H, n)
        dta_re, dta_im = a_re * dt, a_im * dt  # dt A
        # C' = C (exp(dt A) - 1) / A, in real arithmetic (complex exp is ~50x slower on CPU)
        e = torch.exp(dta_re)
        num_re, num_im = e * torch.cos(dta_im) - 1.0, e * torch.sin(dta_im)
        den = a_re**2 + a_im**2
        q_re, q_im = (num_re * a_re + num_im * a_im) / den, (num_im * a_re - num_re * a_im) / den
        c_re, c_im = self.C[..., 0], self.C[..., 1]
        cp_re, cp_im = c_re * q_re - c_im * q_im, c_re * q_im + c_im * q_re  # (H, n)
        steps = torch.arange(length, device=dt.device, dtype=dt.dtype)
        mag = torch.exp(dta_re.unsqueeze(-1) * steps)  # (H, n, L)
        phase = dta_im.unsqueeze(-1) * steps  # (H, n, L)
        # 2 Re(C' exp(dt A l)) summed over the states
        return 2.0 * (torch.einsum("hn,hnl->hl", cp_re, mag * torch.cos(phase))
                      - torch.einsum("hn,hnl->hl", cp_im, mag * torch.sin(phase)))  # (H, L)


def _toeplitz_parts(k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The bidirectional (2H, L) kernel as an (H, 2L-1) weight row and the (L, L) index with which
    ``w[:, index]`` is the (H, L, L) Toeplitz operator of the long convolution.

    y[t] = sum_s k_fwd[s] u[t-s] + sum_{s>=1} k_bwd[s-1] u[t+s]: the weight of u[t'] sits at offset t'-t.
    """
    L = k.shape[-1]
    k_fwd, k_bwd = k.chunk(2, dim=0)
    w = torch.cat([k_fwd.flip(-1), k_bwd[:, : L - 1]], dim=-1)  # (H, 2L-1), offsets -(L-1)..L-1
    index = torch.arange(L)[None, :] - torch.arange(L)[:, None] + L - 1  # (L, L)
    return w, index


class S4D(nn.Module):
    """Bidirectional S4D layer on (B, H, L): long convolution + skip, GELU, gated output."""

    def __init__(self, channels: int, d_state: int, dt_min: float, dt_max: float, dropout: float):
        super().__init__()
        self.kernel = S4DKernel(2 * channels, d_state, dt_min, dt_max)  # forward and backward halves
        self.D = nn.Parameter(torch.randn(channels))
        self.drop = nn.Dropout(dropout)
        self.out = nn.Conv1d(channels, 2 * channels, kernel_size=1)

    TOEPLITZ_MAX_LEN = 256  # operator memory grows as H * L^2: 8 MiB per layer at L=128, 32 MiB at 256

    def _eval_kernel(self, L: int) -> torch.Tensor:
        """The (2H, L) kernel in eval mode, cached per length and parameter state.

        Generating the kernel from its parameters costs far more than applying it, and in eval mode the
        parameters do not change.  Any in-place change to a kernel parameter (``load_state_dict``) bumps its
        version and invalidates the cache.  Made outside inference mode so later exports may use it.
        """
        key = (L, *[(p.data_ptr(), p._version) for p in self.kernel.parameters()])
        if getattr(self, "_cache_key", None) != key:
            with torch.inference_mode(False), torch.no_grad():
                k = self.kernel(L).clone()  # (2H, L)
                self._cache_kernel = k
                self._cache_op = None
                if L <= self.TOEPLITZ_MAX_LEN:
                    w, offset = _toeplitz_parts(k)
                    self._cache_op = w[:, offset].clone()  # (H, L, L)
            self._cache_key = key
        return self._cache_kernel

    def freeze_for_export(self, length: int) -> None:
        """Store the eval kernel for ``length`` tokens as buffers, for an exported graph of fixed window.

        An export would otherwise trace the kernel's generation (exp, cos, sin over H x N x L) into the
        graph and recompute it on every call, which costs more than the layer itself at batch 1-2.  The
        buffers hold the (H, 2L-1) bidirectional kernel and the (L, L) index that expands it to the
        Toeplitz operator in the graph: a few hundred KB, where the operator itself would be 8 MB a layer.
        """
        w, offset = _toeplitz_parts(self._eval_kernel(length))
        self.register_buffer("frozen_w", w.clone(), persistent=False)  # (H, 2L-1)
        self.register_buffer("frozen_index", offset, persistent=False)  # (L, L)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        L = u.shape[-1]
        frozen = getattr(self, "frozen_w", None)
        k = None if self.training or frozen is not None else self._eval_kernel(L)
        if frozen is not None and not self.training:
            if frozen.shape[-1] != 2 * L - 1:
                raise ValueError(f"this S4D layer was frozen for {(frozen.shape[-1] + 1) // 2} tokens; got {L}")
            y = torch.bmm(frozen[:, self.frozen_index], u.permute(1, 2, 0)).permute(2, 0, 1)  # (H,L,L)@(H,L,B)
        elif k is not None and self._cache_op is not None:
            # short inputs: the long convolution as one batched matmul per channel with the cached operator,
            # cheaper than the FFT round trip at a few hundred tokens (and no DFT in an ONNX export)
            y = torch.bmm(self._cache_op, u.permute(1, 2, 0).contiguous()).permute(2, 0, 1)  # (H,L,L)@(H,L,B)
        else:
            k_fwd, k_bwd = (self.kernel(L) if k is None else k).chunk(2, dim=0)  # (H, L) each
            k = F.pad(k_fwd, (0, L)) + F.pad(k_bwd.flip(-1), (L, 0))  # (H, 2L): causal + anti-causal
            y = torch.fft.irfft(torch.fft.rfft(u, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]  # (B, H, L)
        y = y + u * self.D.unsqueeze(-1)
        y = self.drop(F.gelu(y))
        return F.glu(self.out(y), dim=1)  # (B, H, L)


class SSMBlock(nn.Module):
    def __init__(self, cfg: SSMConfig, drop_path: float):
        super().__init__()
        d = cfg.d_model
        self.norm1 = nn.LayerNorm(d)
        self.s4d = S4D(d, cfg.d_state, cfg.dt_min, cfg.dt_max, cfg.dropout)
        self.norm2 = nn.LayerNorm(d)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(hidden, d))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D)
        x = x + self.drop_path(self.s4d(self.norm1(x).transpose(1, 2)).transpose(1, 2))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class SSM(ECGModel):
    """Strided conv front end + bidirectional S4D blocks."""

    def __init__(self, cfg: SSMConfig, *, in_chans: int = 12, num_classes: int = 17, head: str = "linear",
                 drop_rate: float = 0.0, drop_path_rate: float = 0.0, pretrained_cfg: PretrainedCfg | None = None):
        super().__init__(in_chans=in_chans, num_classes=num_classes, head=head, drop_rate=drop_rate,
                         pretrained_cfg=pretrained_cfg)
        self.cfg = cfg
        d = cfg.d_model
        stem: list[nn.Module] = []
        ch = in_chans
        for i, s in enumerate(cfg.stem_stride):
            out = d if i == len(cfg.stem_stride) - 1 else d // 2
            k = 2 * s + 3  # odd kernel spanning the stride with overlap
            stem += [nn.Conv1d(ch, out, k, stride=s, padding=k // 2), nn.GroupNorm(1, out), nn.GELU()]
            ch = out
        self.stem = nn.Sequential(*stem)
        rates = [drop_path_rate * i / max(cfg.depth - 1, 1) for i in range(cfg.depth)]
        self.blocks = nn.ModuleList(SSMBlock(cfg, r) for r in rates)
        self.norm = nn.LayerNorm(d)
        self.num_features = d
        self.layer_dims = [d] * cfg.depth
        self.build_head()

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(x).transpose(1, 2)  # (B, C, T) -> (B, T/stride, D)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self._tokens(x)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)  # (B, T', D)

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self._tokens(x)
        out = []
        for blk in self.blocks:
            x = blk(x)
            out.append(x)
        out[-1] = self.norm(out[-1])
        return out

    def freeze_for_export(self, window_samples: int) -> None:
        """Fix every S4D kernel for windows of ``window_samples`` (see :meth:`S4D.freeze_for_export`)."""
        with torch.no_grad():
            n_tokens = self._tokens(torch.zeros(1, self.in_chans, window_samples)).shape[1]
        for blk in self.blocks:
            blk.s4d.freeze_for_export(n_tokens)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        groups = [list(self.stem.parameters())]
        groups += [list(b.parameters()) for b in self.blocks]
        groups[-1] += list(self.norm.parameters())
        return groups


def _ssm_cfg() -> PretrainedCfg:
    # 100 Hz keeps a 10-s window at 1000 samples: the CPU-friendly default for training here
    return PretrainedCfg(input_contract=InputContract(fs=100.0, window_samples=500), notes="trained with ecgscope")


def _build(cfg: SSMConfig, **kw) -> SSM:
    overrides = {k: kw.pop(k) for k in list(kw) if k in asdict(cfg)}
    for k, v in overrides.items():
        setattr(cfg, k, tuple(v) if isinstance(v, list) else v)
    return SSM(cfg, pretrained_cfg=_ssm_cfg(), **kw)


@register_model
def ssm(**kw) -> SSM:
    """Compact bidirectional S4D model (d=128, 4 blocks, ~0.6 M params); the default small backbone."""
    return _build(SSMConfig(), **kw)


@register_model
def ssm_tiny(**kw) -> SSM:
    """Tiny S4D model for tests (d=32, 2 blocks)."""
    return _build(SSMConfig(d_model=32, depth=2, d_state=8), **kw)
