"""Train the learned delineator (:mod:`ecgscope.signal.delineator_net`) on LUDB's expert annotations.

Reproduce the shipped weights (about 16 minutes on one CPU core; the defaults are the shipped
configuration: 6000 steps of 32, kernel 5, additive skips, light head, seed 0, last step kept)::

    nice -n 10 .venv/bin/python -m ecgscope.train.delineator \\
        --out src/ecgscope/signal/weights/delineator_unet.pt

(this also writes ``delineator_unet.onnx`` beside it, the graph ONNX Runtime runs; the shipped weights' ``training``
metadata names this module by its former path, ``ecgscope.signal.train_delineator``; the shipped file was written by ``--kernel 5 --head light --out <tmp>``, identical to the defaults; its ``training``
metadata records the command, data split and validation loss).  The configuration was chosen on the
validation fold (``benchmarks/delineation_ludb.py --folds 9``) among kernel 7/5 and conv/light heads:
kernel 5 with the light head runs the network in ~6.3 instead of ~9.2 ms (12 leads x 10 s, one core)
with P/QRS-onset errors ~0.5-0.9 ms larger and T waves found more often (Se/PPV 98.2 vs 97.6 %).

Split (by record; each LUDB record is one patient): the dataset's ``fold`` column through
:func:`ecgscope.datasets.split_indices`: folds 1-8 train, fold 9 validation (picks the best step),
fold 10 test (only ``benchmarks/delineation_ludb.py`` reads it; never seen here).

Targets: every sample of a lead is background, P, QRS or T from that lead's onset..offset annotations.
LUDB leaves the edges of each record unannotated, so samples before the first and after the last
annotated sample of a lead are excluded from the loss (ignore index), as is ±100 ms around a wave
whose onset or offset is missing.

Augmentation (fresh each batch): random crops of 5-10 s, time stretch ±15 % (heart rate and wave
durations), per-lead gain, sign flip, Gaussian and 50/60 Hz noise, slow baseline drift; the result is
re-normalised as inference would.  The weights of the last step are kept (the validation loss is
logged; ``--select val_loss`` keeps its best step instead, which on LUDB is an early, less precise one).  The context
channel is the RMS of all 12 leads for 60 % of the items, of a random subset for 20 % and of the lead
alone for 20 % (so single-lead input works).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ecgscope.datasets import open_dataset, split_indices
from ecgscope.signal.delineator_net import (
    DelineatorConfig,
    DelineatorUNet,
    export_delineator_onnx,
    save_delineator,
)
from ecgscope.signal.delineator_runtime import MODEL_FS, context_channel, normalize_leads

WAVE_CLASS = {"P": 1, "QRS": 2, "T": 3}
IGNORE = -1


def lead_targets(waves: dict[str, np.ndarray], fs_in: float, n_out: int) -> np.ndarray:
    """(n_out,) int8 class per 250 Hz sample from one lead's LUDB waves ``{wave: (n, 3) samples}``."""
    ratio = MODEL_FS / fs_in
    y = np.zeros(n_out, np.int8)
    pts = np.concatenate([w[w >= 0] for w in waves.values() if w.size] or [np.zeros(0)])
    if pts.size == 0:
        y[:] = IGNORE
        return y
    halo = int(0.1 * MODEL_FS)
    for name, arr in waves.items():
        for on, peak, off in arr:
            if on < 0 or off < 0:
                c = int(round(peak * ratio))
                y[max(0, c - halo): c + halo + 1] = IGNORE
                continue
            a, b = int(round(on * ratio)), int(round(off * ratio))
            y[a: b + 1] = np.where(y[a: b + 1] == IGNORE, IGNORE, WAVE_CLASS[name])
    first, last = int(math.floor(pts.min() * ratio)), int(math.ceil(pts.max() * ratio))
    y[:first] = IGNORE
    y[last + 1:] = IGNORE
    return y


def load_split(ds, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised leads (R, 12, T) and targets (R, 12, T) of LUDB ``rows``."""
    xs, ys = [], []
    for i in rows:
        rec = ds.load(int(i))
        xn = normalize_leads(rec.signal, rec.fs)
        ann = ds.annotations(int(i))
        ys.append(np.stack([lead_targets(ann[lead], rec.fs, xn.shape[-1]) for lead in rec.leads]))
        xs.append(xn)
    return np.stack(xs).astype(np.float32), np.stack(ys)


class Batches:
    """Random augmented training batches from (R, 12, T) arrays."""

    def __init__(self, x: np.ndarray, y: np.ndarray, seed: int = 0, stretch: bool = True):
        self.stretch = stretch
        self.x = torch.from_numpy(x)
        self.y = torch.from_numpy(y.astype(np.int64))
        self.g = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)

    def _u(self, *shape: int, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=self.g)

    def __call__(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        n_rec, n_lead, t_full = self.x.shape
        t = int(self.rng.choice([int(5 * MODEL_FS), int(7.5 * MODEL_FS), t_full]))
        # time stretch: a crop of t / s samples shown as t samples (waves and RR ±15 %)
        s = float(self.rng.uniform(0.85, 1.15)) if self.stretch else 1.0
        t_src = min(t_full, int(round(t / s)))
        r = torch.randint(0, n_rec, (batch,), generator=self.g)
        lead = torch.randint(0, n_lead, (batch,), generator=self.g)
        start = torch.randint(0, t_full - t_src + 1, (batch,), generator=self.g)
        idx = start[:, None] + torch.arange(t_src)[None, :]  # (B, t_src)
        x = self.x[r[:, None, None], torch.arange(n_lead)[None, :, None], idx[:, None, :]]  # (B, 12, t_src)
        y = self.y[r, lead][torch.arange(batch)[:, None], idx]  # (B, t_src)
        if t_src != t:
            x = F.interpolate(x, size=t, mode="linear", align_corners=True)
            pick = torch.round(torch.linspace(0, t_src - 1, t)).long()
            y = y[:, pick]
        # augmentation, per lead
        x = x * self._u(batch, n_lead, 1, lo=0.7, hi=1.4)
        x = x * torch.where(self._u(batch, 1, 1) < 0.1, -1.0, 1.0)
        tt = torch.arange(t) / MODEL_FS
        noise_sd = self._u(batch, n_lead, 1, hi=0.08) * (self._u(batch, 1, 1) < 0.7)
        x = x + noise_sd * torch.randn(batch, n_lead, t, generator=self.g)
        mains_f = torch.where(self._u(batch, 1, 1) < 0.5, 50.0, 60.0)
        mains = self._u(batch, n_lead, 1, hi=0.1) * (self._u(batch, 1, 1) < 0.2)
        x = x + mains * torch.sin(2 * math.pi * mains_f * tt + self._u(batch, n_lead, 1, hi=2 * math.pi))
        drift_f = self._u(batch, 1, 1, lo=0.05, hi=0.4)
        drift = self._u(batch, n_lead, 1, hi=0.3) * (self._u(batch, 1, 1) < 0.5)
        x = x + drift * torch.sin(2 * math.pi * drift_f * tt + self._u(batch, n_lead, 1, hi=2 * math.pi))
        scale = torch.quantile(x.abs(), 0.99, dim=-1, keepdim=True).clamp_min(0.05)
        x = (x / scale).clamp(-8.0, 8.0)
        # context: all leads / random subset / the lead alone
        mode = self._u(batch)
        mask = torch.ones(batch, n_lead, 1)
        subset = (mode >= 0.6) & (mode < 0.8)
        mask[subset] = (self._u(int(subset.sum()), n_lead, 1) < 0.3).float()
        mask[mode >= 0.8] = 0.0
        mask[torch.arange(batch), lead] = 1.0
        ctx = torch.sqrt((x * x * mask).sum(1) / mask.sum(1))  # (B, t)
        own = x[torch.arange(batch), lead]  # (B, t)
        return torch.stack([own, ctx], dim=1), y


def validation_input(x: np.ndarray) -> torch.Tensor:
    """(R, 12, T) normalised leads -> (R*12, 2, T) with the all-lead context."""
    ctx = np.stack([np.broadcast_to(context_channel(r), r.shape) for r in x])
    return torch.from_numpy(np.stack([x, ctx], axis=2).reshape(-1, 2, x.shape[-1]).astype(np.float32))


@torch.no_grad()
def evaluate(model: DelineatorUNet, xv: torch.Tensor, yv: torch.Tensor) -> tuple[float, float]:
    model.eval()
    losses, correct, total = [], 0, 0
    for a in range(0, len(xv), 96):
        logits = model(xv[a: a + 96])
        y = yv[a: a + 96]
        losses.append(float(F.cross_entropy(logits, y, ignore_index=IGNORE, reduction="sum")))
        keep = y != IGNORE
        correct += int((logits.argmax(1)[keep] == y[keep]).sum())
        total += int(keep.sum())
    model.train()
    return sum(losses) / max(total, 1), correct / max(total, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default="src/ecgscope/signal/weights/delineator_unet.pt")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    shipped = DelineatorConfig()  # the defaults are the shipped configuration, defined once there
    ap.add_argument("--channels", default=",".join(str(c) for c in shipped.channels))
    ap.add_argument("--kernel", type=int, default=shipped.kernel_size)
    ap.add_argument("--decoder-convs", type=int, default=shipped.decoder_convs)
    ap.add_argument("--skip", choices=("concat", "add"), default=shipped.skip)
    ap.add_argument("--head", choices=("conv", "light"), default=shipped.head)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--select", choices=("last", "val_loss"), default="last",
                    help="keep the last step (default) or the step with the lowest validation loss")
    ap.add_argument("--no-stretch", action="store_true", help="turn off the ±15 %% time-stretch augmentation")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    ds = open_dataset("ludb", args.data_dir)
    split = split_indices(ds.index)
    t0 = time.time()
    xt, yt = load_split(ds, split["train"])
    xv, yv = load_split(ds, split["val"])
    xv_t, yv_t = validation_input(xv), torch.from_numpy(yv.reshape(-1, yv.shape[-1]).astype(np.int64))
    print(f"loaded {len(xt)} train / {len(xv)} val records in {time.time() - t0:.0f}s", flush=True)

    cfg = DelineatorConfig(channels=tuple(int(c) for c in args.channels.split(",")), kernel_size=args.kernel,
                           decoder_convs=args.decoder_convs, skip=args.skip, head=args.head)
    model = DelineatorUNet(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    batches = Batches(xt, yt, seed=args.seed, stretch=not args.no_stretch)
    best = (float("inf"), 0.0, 0)
    best_state = copy.deepcopy(model.state_dict())
    t0 = time.time()
    run_loss = 0.0
    for step in range(1, args.steps + 1):
        x, y = batches(args.batch)
        loss = F.cross_entropy(model(x), y, ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        run_loss += loss.item()
        if step % args.eval_every == 0 or step == args.steps:
            vloss, vacc = evaluate(model, xv_t, yv_t)
            if vloss < best[0]:
                best = (vloss, vacc, step)
                best_state = copy.deepcopy(model.state_dict())
            print(f"step {step:5d}  train {run_loss / args.eval_every:.4f}  val loss {vloss:.4f}  "
                  f"val acc {vacc:.4f}  {time.time() - t0:.0f}s", flush=True)
            run_loss = 0.0
    if args.select == "val_loss":
        model.load_state_dict(best_state)
    final_loss, final_acc = evaluate(model, xv_t, yv_t)
    training = {
        "command": "python -m ecgscope.train.delineator " + " ".join(argv if argv is not None
                                                                            else sys.argv[1:]),
        "data": "LUDB records of folds 1-8 (train), fold 9 (validation); fold 10 held out",
        "n_train_records": len(xt), "n_val_records": len(xv), "steps": args.steps, "batch": args.batch,
        "lr": args.lr, "seed": args.seed, "select": args.select, "stretch": not args.no_stretch,
        "lowest_val_loss_step": best[2], "val_loss": round(final_loss, 4), "val_accuracy": round(final_acc, 4),
        "n_params": n_params, "train_seconds": round(time.time() - t0),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_delineator(model, args.out, training)
    export_delineator_onnx(args.out)  # the graph inference runs with ONNX Runtime, next to the .pt
    print(json.dumps(training, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
