"""ST-MEM: the spatio-temporal masked ECG modelling ViT (Na et al., ICLR 2024).

Each lead is cut into patches of 75 samples (0.3 s at 250 Hz); every patch is a token.  Tokens
get a positional embedding (shared across leads), each lead's sequence is wrapped in SEP tokens,
and a learned **lead embedding** says which lead a token comes from, so the same encoder takes
any subset of leads: reduced-lead input is just fewer token rows with their own lead embeddings.

Parameter names follow ST-MEM's ``ST_MEM_ViT`` one to one (``to_patch_embedding.{1,2,3}``,
``pos_embedding``, ``sep_embedding``, ``lead_embeddings.N``, ``blockN.attn.fn.to_qkv`` ...), so the
published ``{"model": state_dict}`` files load through :mod:`ecgscope.models.loaders.stmem`.

One deliberate difference: the final LayerNorm (``norm``) is applied to every token (as in
ST-MEM's pretraining encoder) and the head pools afterwards; ST-MEM's classifier pools first and
normalises the pooled vector.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ecgscope.errors import ContractError
from ecgscope.leads import STANDARD_LEADS, normalize_lead_name
from ecgscope.models._base import ECGModel
from ecgscope.models._registry import register_model
from ecgscope.models.layers.drop_path import DropPath
from ecgscope.models.pretrained import PretrainedCfg
from ecgscope.signal.contract import InputContract


@dataclass
class STMEMConfig:
    seq_len: int = 2250
    patch_size: int = 75
    num_leads: int = 12
    width: int = 768
    depth: int = 12
    mlp_dim: int = 3072
    heads: int = 12
    dim_head: int = 64
    qkv_bias: bool = True
    dropout: float = 0.0
    attn_dropout: float = 0.0


def sincos_pos_embed(dim: int, n: int, sep: bool = True) -> torch.Tensor:
    """ST-MEM's 1-D sin-cos table, with zero rows for the two SEP positions: (n + 2, dim)."""
    omega = 1.0 / (10000 ** (torch.arange(dim // 2, dtype=torch.float32) / (dim / 2.0)))
    grid = torch.arange(n, dtype=torch.float32)[:, None] * omega[None, :]
    pe = torch.cat([grid.sin(), grid.cos()], dim=1)
    if sep:
        pe = torch.cat([torch.zeros(1, dim), pe, torch.zeros(1, dim)], dim=0)
    return pe


class Patchify(nn.Module):
    """(B, C, n * p) -> (B, C, n, p); ST-MEM's ``Rearrange('b c (n p) -> b c n p')``."""

    def __init__(self, patch_size: int):
        super().__init__()
        self.patch_size = patch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T = x.shape
        return x.reshape(B, C, T // self.patch_size, self.patch_size)


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, qkv_bias: bool, dropout: float, attn_dropout: float):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.attn_dropout = attn_dropout
        self.to_qkv = nn.Linear(dim, inner * 3, bias=qkv_bias)
        project_out = not (heads == 1 and dim_head == dim)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout)) if project_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D)
        B, N, _ = x.shape
        q, k, v = (t.view(B, N, self.heads, -1).transpose(1, 2) for t in self.to_qkv(x).chunk(3, dim=-1))
        y = nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_dropout if self.training else 0.0)
        return self.to_out(y.transpose(1, 2).reshape(B, N, -1))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TransformerBlock(nn.Module):
    def __init__(self, cfg: STMEMConfig, drop_path: float):
        super().__init__()
        self.attn = PreNorm(cfg.width, Attention(cfg.width, cfg.heads, cfg.dim_head, cfg.qkv_bias, cfg.dropout,
                                                 cfg.attn_dropout))
        self.droppath1 = DropPath(drop_path)
        self.ff = PreNorm(cfg.width, FeedForward(cfg.width, cfg.mlp_dim, cfg.dropout))
        self.droppath2 = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.droppath1(self.attn(x)) + x
        return self.droppath2(self.ff(x)) + x


class STMEM(ECGModel):
    """ST-MEM ViT encoder; ``input_leads`` picks which lead embeddings the input channels use."""

    accepts_lead_subset = True

    def __init__(self, cfg: STMEMConfig, *, in_chans: int | None = None, input_leads: tuple[str, ...] | None = None,
                 num_classes: int = 17, head: str = "linear", drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 pretrained_cfg: PretrainedCfg | None = None):
        leads = tuple(input_leads) if input_leads else STANDARD_LEADS[: in_chans or cfg.num_leads]
        super().__init__(in_chans=len(leads), num_classes=num_classes, head=head, drop_rate=drop_rate,
                         pretrained_cfg=pretrained_cfg)
        if cfg.seq_len % cfg.patch_size:
            raise ValueError("seq_len must be a multiple of patch_size")
        self.cfg = cfg
        self.num_patches = cfg.seq_len // cfg.patch_size
        p, w = cfg.patch_size, cfg.width
        self.to_patch_embedding = nn.Sequential(Patchify(p), nn.LayerNorm(p), nn.Linear(p, w), nn.LayerNorm(w))
        self.pos_embedding = nn.Parameter(sincos_pos_embed(w, self.num_patches).unsqueeze(0))  # (1, n + 2, w)
        self.sep_embedding = nn.Parameter(torch.randn(w) * 0.02)
        self.lead_embeddings = nn.ParameterList(nn.Parameter(torch.randn(w) * 0.02) for _ in range(cfg.num_leads))
        rates = [drop_path_rate * i / max(cfg.depth - 1, 1) for i in range(cfg.depth)]
        for i, r in enumerate(rates):
            self.add_module(f"block{i}", TransformerBlock(cfg, r))
        self.dropout = nn.Dropout(cfg.dropout)
        self.norm = nn.LayerNorm(w)
        self.num_features = w
        self.layer_dims = [w] * cfg.depth
        self._set_leads(leads)
        self.build_head()

    # ------------------------------------------------------------------ leads
    def _set_leads(self, leads: tuple[str, ...]) -> None:
        names = tuple(normalize_lead_name(n)[0] for n in leads)
        bad = [n for n in names if n not in STANDARD_LEADS[: self.cfg.num_leads]]
        if bad:
            raise ContractError(f"ST-MEM has lead embeddings for {STANDARD_LEADS[: self.cfg.num_leads]}; not for {bad}")
        self.input_leads = names
        self.lead_index = [STANDARD_LEADS.index(n) for n in names]
        self._in_chans = len(names)

    def set_input_leads(self, leads: tuple[str, ...]) -> None:
        """Take only ``leads`` (their own lead embeddings; nothing is duplicated)."""
        self._set_leads(tuple(leads))
        self.init_kwargs["input_leads"] = list(self.input_leads)
        self.init_kwargs.pop("in_chans", None)

    # ------------------------------------------------------------------ forward
    def _blocks(self) -> list[TransformerBlock]:
        return [getattr(self, f"block{i}") for i in range(self.cfg.depth)]

    def _embed(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        B, C, T = x.shape
        if T % self.cfg.patch_size or T // self.cfg.patch_size > self.num_patches:
            raise ContractError(f"ST-MEM takes a multiple of {self.cfg.patch_size} samples up to {self.cfg.seq_len}; "
                                f"got {T}")
        t = self.to_patch_embedding(x)  # (B, C, n, w)
        n = t.shape[2]
        t = t + self.pos_embedding[:, 1 : n + 1, :].unsqueeze(1)
        sep = self.sep_embedding[None, None, None, :]
        left = sep.expand(B, C, -1, -1) + self.pos_embedding[:, :1, :].unsqueeze(1)
        right = sep.expand(B, C, -1, -1) + self.pos_embedding[:, -1:, :].unsqueeze(1)
        t = torch.cat([left, t, right], dim=2)  # (B, C, n + 2, w)
        lead = torch.stack([self.lead_embeddings[i] for i in self.lead_index])  # (C, w)
        t = t + lead[None, :, None, :]
        return self.dropout(t.reshape(B, C * (n + 2), -1)), C, n  # (B, C (n + 2), w)

    def _strip_sep(self, t: torch.Tensor, C: int, n: int) -> torch.Tensor:
        return t.reshape(t.shape[0], C, n + 2, -1)[:, :, 1:-1, :]  # (B, C, n, w)

    def forward_grid(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, n, w): one normalised token per lead and patch."""
        self.check_input(x)
        t, C, n = self._embed(x)
        for blk in self._blocks():
            t = blk(t)
        return self.norm(self._strip_sep(t, C, n))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        g = self.forward_grid(x)
        return g.reshape(g.shape[0], -1, g.shape[-1])  # (B, C n, w)

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        self.check_input(x)
        t, C, n = self._embed(x)
        out = []
        for blk in self._blocks():
            t = blk(t)
            out.append(self._strip_sep(t, C, n).reshape(t.shape[0], C * n, -1))
        out[-1] = self.norm(out[-1])
        return out

    def layer_groups(self) -> list[list[nn.Parameter]]:
        stem = [*self.to_patch_embedding.parameters(), self.pos_embedding, self.sep_embedding,
                *self.lead_embeddings.parameters()]
        groups = [stem] + [list(b.parameters()) for b in self._blocks()]
        groups[-1] += list(self.norm.parameters())
        return groups

    @classmethod
    def convert_checkpoint(cls, ckpt: dict, *, source: str) -> dict[str, torch.Tensor]:
        from ecgscope.models.loaders.stmem import convert_stmem

        return convert_stmem(ckpt, source=source)


def _stmem_cfg(published: bool, seq_len: int) -> PretrainedCfg:
    contract = InputContract(fs=250.0, window_samples=seq_len, bandpass=(0.67, 40.0), normalization="global")
    if published:
        return PretrainedCfg(
            input_contract=contract, fixed_window=True,
            source="random init (load ST-MEM weights with pretrained=path)", url="https://github.com/bakqui/ST-MEM",
            license="CC BY-NC 4.0 (published weights)",
            paper="Na et al., Guiding masked representation learning to capture spatio-temporal relationship of "
                  "electrocardiogram, ICLR 2024")
    return PretrainedCfg(input_contract=contract, fixed_window=True,
                         notes="ST-MEM architecture at CPU size, trained with ecgscope")


def _build(cfg: STMEMConfig, published: bool, **kw) -> STMEM:
    for k in [k for k in kw if k in asdict(cfg)]:
        setattr(cfg, k, kw.pop(k))
    return STMEM(cfg, pretrained_cfg=_stmem_cfg(published, cfg.seq_len), **kw)


@register_model
def stmem(**kw) -> STMEM:
    """ST-MEM ViT-B/75 (12 x 768, patch 75 = 0.3 s at 250 Hz, 9-s windows), the published encoder size."""
    return _build(STMEMConfig(), True, **kw)


@register_model
def stmem_small(**kw) -> STMEM:
    """ST-MEM ViT-S/75 (12 x 384, 6 heads)."""
    return _build(STMEMConfig(width=384, mlp_dim=1536, heads=6), True, **kw)


@register_model
def stmem_tiny(**kw) -> STMEM:
    """ST-MEM code path at CPU size (4 x 96, 3 heads)."""
    return _build(STMEMConfig(width=96, depth=4, mlp_dim=192, heads=3, dim_head=32), False, **kw)
