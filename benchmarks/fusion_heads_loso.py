"""ECG-Soup's claim, checked: do the layer-fusion heads (PPA, PMA, IPASTMEM) beat the last layer's linear head, in
and out of distribution, on the ST-MEM- and ECG-FM-compatible encoders?

Each cell fine-tunes one (encoder, head, seed) from a random initialisation on task ``loso17-ludb`` (the
12-lead sources but LUDB: PTB-XL 100 Hz folds 1-8, checkpoint chosen on fold 9), then scores

* **in distribution**: PTB-XL 100 Hz fold 10 (never used for any choice);
* **out of distribution**: all 160 LUDB records (another hospital, never seen).

Macro AUROC over the labels with >= 10 positives in each test set (the same labels for every cell), mean
and SD over seeds, and the head's difference to ``linear`` with a paired bootstrap CI over test records
(seeds' probabilities averaged).  The CPU budget (the tiny encoders, few epochs, no self-supervised
pretraining) is far below the paper's; the table says what holds at this budget, not at the paper's.
Resumable: each finished cell writes ``runs/fusion_heads/<cell>.npz``.

    .venv/bin/python benchmarks/fusion_heads_loso.py [--epochs 3] [--seeds 1 2 3]

Writes ``benchmarks/results/fusion_heads_loso.{md,json}``; with ``--pretrain-epochs P`` (IPASTMEM end to end:
its pretraining and its head against masked pretraining and the linear head)
``fusion_heads_loso_pretrained.{md,json}``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import write_table_and_results

from ecgscope.benchmark.report import paired_difference
from ecgscope.datasets import open_dataset
from ecgscope.evaluate.metrics import macro_auroc
from ecgscope.models.heads import HEADS

ENCODERS = ("stmem_tiny", "ecgfm_tiny")
TASK = "loso17-ludb"
MIN_POS = 10


def _pretrained(encoder: str, fusion: str, epochs: int, data_dir: str, work: Path) -> str:
    """A masked-reconstruction encoder pretrained on PTB-XL 100 Hz folds 1-8 (validation 9) with the decoder
    reading the last layer (``fusion="last"``) or the group-wise layer average (``"ipastmem"``); cached."""
    from ecgscope.train import PretrainConfig, pretrain

    out = work / "pretrain" / f"{encoder}-{fusion}-e{epochs}"
    if (out / "encoder.pt").exists():
        return str(out / "encoder.pt")
    res = pretrain(PretrainConfig(model=encoder, dataset="ptbxl100", data_dir=data_dir, out_dir=str(out),
                                  objectives=("masked",), epochs=epochs, fusion=fusion, seed=0, progress=False))
    return str(res.bundle)


def _cell_predictions(encoder: str, head: str, seed: int, epochs: int, data_dir: str, work: Path,
                      pretrained: str | None = None, tag: str = "") -> dict:
    """Train one cell (or read it back) and predict both test sets."""
    path = work / f"{encoder}-{head}{tag}-s{seed}-e{epochs}.npz"
    if path.is_file():
        return dict(np.load(path))
    from ecgscope.inference import Analyzer
    from ecgscope.inference.build import _uncalibrated_package, recording_probabilities
    from ecgscope.models import read_checkpoint
    from ecgscope.tasks import get_task
    from ecgscope.train import TrainConfig, train

    t0 = time.time()
    res = train(TrainConfig(model=encoder, strategy="finetune", task=TASK, out_dir=str(work / path.stem),
                            data_dir=data_dir, epochs=epochs, batch_size=64, seed=seed, progress=False,
                            n_bootstrap=0, head=head, pretrained=pretrained))
    task = get_task(TASK)
    bundle = Path(res.bundle)
    contract = dict(read_checkpoint(bundle)["pretrained_cfg"]["input_contract"])
    ptbxl = open_dataset("ptbxl100", data_dir)
    rows = np.flatnonzero(ptbxl.index["fold"].to_numpy() == 10)
    with tempfile.TemporaryDirectory() as tmp:
        an = Analyzer(_uncalibrated_package(bundle, Path(tmp), task.labels, "12-lead", contract))
        p_in = recording_probabilities(an, ptbxl, rows)
    y_in = np.stack([ptbxl.labels[n].to_numpy(np.float64)[rows] if n in ptbxl.labels else np.full(len(rows), np.nan)
                     for n in task.labels], 1)
    out = {"in_prob": p_in, "in_true": y_in,
           "out_prob": res.predictions["test"], "out_true": res.targets["test"],
           "seconds": np.array(time.time() - t0)}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def _macro(y: np.ndarray, p: np.ndarray, cols: list[int]) -> float:
    return macro_auroc(y[:, cols], p[:, cols])


def _scorable(y: np.ndarray) -> list[int]:
    return [j for j in range(y.shape[1]) if MIN_POS <= np.nansum(y[:, j]) < np.isfinite(y[:, j]).sum()]


def _paired_diff_ci(y, p_head, p_base, cols, n_boot=1000, seed=0) -> tuple[float, float, float]:
    """Macro AUROC of head minus base over ``cols``, paired bootstrap over test records (the grid's own)."""
    d = paired_difference(y[:, cols], p_head[:, cols], p_base[:, cols], n_bootstrap=n_boot, seed=seed)
    return d["difference"], d["lo"], d["hi"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--encoders", nargs="+", default=list(ENCODERS))
    ap.add_argument("--work", default="runs/fusion_heads")
    ap.add_argument("--pretrain-epochs", type=int, default=0,
                    help="also compare IPASTMEM pretraining (decoder on the fused layers) + its head against masked "
                         "pretraining + the linear head, each pretrained this many epochs (0: skip)")
    args = ap.parse_args()
    work = Path(args.work)
    t0 = time.time()
    cells = {(e, h, s): _cell_predictions(e, h, s, args.epochs, args.data_dir, work)
             for e in args.encoders for h in HEADS if h != "attn" for s in args.seeds}
    heads = [h for h in HEADS if h != "attn"]
    lines = [f"# Layer-fusion heads vs the linear head ({TASK}: trained on PTB-XL 100 Hz folds 1-8, {args.epochs} "
             f"epochs from scratch, seeds {args.seeds})", "",
             "| encoder | head | in distribution: PTB-XL fold 10 macro AUROC (mean ± SD over seeds) | vs linear [95 % CI] "
             "| out of distribution: LUDB macro AUROC | vs linear [95 % CI] |", "|---|---|---|---|---|---|"]
    payload: dict = {"task": TASK, "epochs": args.epochs, "seeds": args.seeds, "rows": []}
    for e in args.encoders:
        ref = cells[(e, "linear", args.seeds[0])]
        cols_in, cols_out = _scorable(ref["in_true"]), _scorable(ref["out_true"])
        mean_p = {h: {k: np.mean([cells[(e, h, s)][f"{k}_prob"] for s in args.seeds], axis=0) for k in ("in", "out")}
                  for h in heads}
        for h in heads:
            per_seed = {k: [_macro(cells[(e, h, s)][f"{k}_true"], cells[(e, h, s)][f"{k}_prob"], cols)
                            for s in args.seeds] for k, cols in (("in", cols_in), ("out", cols_out))}
            row = {"encoder": e, "head": h, "in_per_seed": per_seed["in"], "out_per_seed": per_seed["out"]}
            cells_txt = []
            for k, cols in (("in", cols_in), ("out", cols_out)):
                m, sd = float(np.mean(per_seed[k])), float(np.std(per_seed[k]))
                if h == "linear":
                    diff = "–"
                else:
                    d, lo, hi = _paired_diff_ci(ref[f"{k}_true"], mean_p[h][k], mean_p["linear"][k], cols)
                    row[f"{k}_diff"] = [d, lo, hi]
                    diff = f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                cells_txt += [f"{m:.3f} ± {sd:.3f}", diff]
            payload["rows"].append(row)
            lines.append(f"| {e} | {h} | " + " | ".join(cells_txt) + " |")
        payload.setdefault("labels_scored", {})[e] = {"in": len(cols_in), "out": len(cols_out)}
    if args.pretrain_epochs:
        pe = args.pretrain_epochs
        lines += ["", f"## With self-supervised pretraining ({pe} epochs of masked reconstruction on PTB-XL 100 Hz folds "
                  "1-8): IPASTMEM end to end", "",
                  "| encoder | pretraining decoder reads | head | PTB-XL fold 10 macro AUROC | vs last + linear [95 % CI] "
                  "| LUDB macro AUROC | vs last + linear [95 % CI] |", "|---|---|---|---|---|---|---|"]
        for e in args.encoders:
            ref = cells[(e, "linear", args.seeds[0])]
            cols = {"in": _scorable(ref["in_true"]), "out": _scorable(ref["out_true"])}
            pair = {}
            for fusion, head in (("last", "linear"), ("ipastmem", "ipastmem")):
                enc = _pretrained(e, fusion, pe, args.data_dir, work)
                pair[fusion] = [_cell_predictions(e, head, s, args.epochs, args.data_dir, work, enc,
                                                  tag=f"-pre{fusion}{pe}") for s in args.seeds]
            for fusion, head in (("last", "linear"), ("ipastmem", "ipastmem")):
                txt = []
                for k in ("in", "out"):
                    per = [_macro(c[f"{k}_true"], c[f"{k}_prob"], cols[k]) for c in pair[fusion]]
                    if fusion == "last":
                        diff = "–"
                    else:
                        mp = {f: np.mean([c[f"{k}_prob"] for c in pair[f]], axis=0) for f in pair}
                        d, lo, hi = _paired_diff_ci(ref[f"{k}_true"], mp["ipastmem"], mp["last"], cols[k])
                        diff = f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                    txt += [f"{np.mean(per):.3f} ± {np.std(per):.3f}", diff]
                    payload.setdefault("pretrained", []).append({"encoder": e, "fusion": fusion, "head": head,
                                                                 "split": k, "per_seed": per})
                lines.append(f"| {e} | {'the last layer' if fusion == 'last' else 'the group-wise layer average'} | "
                             f"{head} | " + " | ".join(txt) + " |")
    lines += ["", f"Labels with >= {MIN_POS} positives: in distribution {len(cols_in)}, out of distribution "
              f"{len(cols_out)}. Differences: the head's seed-averaged probabilities against linear's, paired bootstrap "
              f"over test records. Run time {time.time() - t0:.0f} s (cells cached under {args.work})."]
    # the pretrained comparison is its own table, so a run of it never rewrites the from-scratch one
    write_table_and_results("fusion_heads_loso_pretrained" if args.pretrain_epochs else "fusion_heads_loso", lines,
                            payload)


if __name__ == "__main__":
    main()
