"""The benchmark's results table: one tidy CSV, a Markdown summary, comparisons and plots.

``results.csv`` is tidy: one row per (cell, label, metric), where ``label`` is ``macro`` for the
macro averages (over the cell's scorable labels) and a label name otherwise; ``value``, ``ci_lo``,
``ci_hi`` are the test estimate and its percentile-bootstrap 95 % CI over test records.  A label that
cannot be scored on the test split (no positives, no negatives, not assessed) has one row per
metric with ``status`` saying why and empty values: listed, not dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecgscope.evaluate.metrics import macro_auroc

METRICS = ("auroc", "auprc", "f1")
METRIC_NAMES = {"auroc": "AUROC", "auprc": "AUPRC", "f1": "F1 at the validation-chosen threshold"}
CELL_KEYS = ("task", "model", "strategy", "fraction", "seed", "n_train_records", "n_train_patients", "epochs")


def load_cells(out: str | Path) -> list[dict[str, Any]]:
    """Every finished cell's result record under ``OUT/cells`` (sorted by cell id)."""
    return [json.loads(p.read_text()) for p in sorted(Path(out, "cells").glob("*.json"))]


def tidy_table(cells: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (cell, label or ``macro``, metric); see the module docstring."""
    rows = []
    for c in cells:
        base = {k: c[k] for k in CELL_KEYS}
        test = c["test"]
        n_scored = len(test["per_label"])
        for metric in METRICS:
            m = test["macro"].get(metric)
            if m is not None:
                rows.append({**base, "label": "macro", "metric": metric, "value": m["value"], "ci_lo": m["lo"],
                             "ci_hi": m["hi"], "n_pos": None, "n": test["n_samples"],
                             "status": f"scored over {n_scored} label(s)"})
        for r in test["per_label"]:
            for metric in METRICS:
                if metric in r:
                    rows.append({**base, "label": r["label"], "metric": metric, "value": r[metric],
                                 "ci_lo": r.get(f"{metric}_lo"), "ci_hi": r.get(f"{metric}_hi"),
                                 "n_pos": r["n_pos"], "n": r["n"], "status": "scored"})
        for u in test["unscorable"]:
            for metric in METRICS:
                rows.append({**base, "label": u["label"], "metric": metric, "value": None, "ci_lo": None,
                             "ci_hi": None, "n_pos": None, "n": None, "status": f"unscorable: {u['reason']}"})
    return pd.DataFrame(rows)


def _ci(value: float, lo: float, hi: float, digits: int = 3) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def summary_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Macro metrics per cell (wide): one row per (task, model, strategy, fraction, seed)."""
    macro = tidy[tidy["label"] == "macro"]
    wide = macro.pivot_table(index=list(CELL_KEYS), columns="metric", values=["value", "ci_lo", "ci_hi"],
                             aggfunc="first")
    wide.columns = [f"{metric}" if stat == "value" else f"{metric}_{stat[3:]}" for stat, metric in wide.columns]
    return wide.reset_index()


def paired_difference(y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, n_bootstrap: int, seed: int) -> dict:
    """Macro AUROC of a minus b on the same test records, with a paired percentile-bootstrap 95 % CI."""
    diff = macro_auroc(y, p_a) - macro_auroc(y, p_b)
    rng = np.random.default_rng(seed)
    known = ~np.isnan(y)
    scorable = [(np.nansum(y[:, j]) > 0) and (np.nansum(y[:, j]) < known[:, j].sum()) for j in range(y.shape[1])]
    cols = np.flatnonzero(scorable)
    reps, tries = [], 0
    while len(reps) < n_bootstrap and tries < 100 * n_bootstrap:
        tries += 1
        idx = rng.integers(0, len(y), len(y))
        yt = y[idx][:, cols]
        pos, k = np.nansum(yt, axis=0), (~np.isnan(yt)).sum(axis=0)
        if ((pos == 0) | (pos == k)).any():
            continue  # same convention as evaluate_multilabel: every replicate scores the same labels
        reps.append(macro_auroc(yt, p_a[idx][:, cols]) - macro_auroc(yt, p_b[idx][:, cols]))
    lo, hi = (np.percentile(reps, [2.5, 97.5]) if reps else (np.nan, np.nan))
    return {"difference": float(diff), "lo": float(lo), "hi": float(hi), "n_bootstrap": len(reps)}


# the published post-training claims, checked per (task, model, seed) for every post-training variant in the grid
POST_TRAIN_STRATEGIES = ("post-train", "post-train-full")
CLAIMS = tuple(claim for sa in POST_TRAIN_STRATEGIES for claim in (
    (f"{sa} >= finetune at equal labels", sa, "finetune", "same"),
    (f"{sa} at 30 % >= finetune at 100 %", sa, "finetune", (0.3, 1.0)),
))


def comparisons(out: str | Path, cells: list[dict[str, Any]], n_bootstrap: int = 1000) -> pd.DataFrame:
    """Post-train versus finetune on the same test records: paired bootstrap of the macro AUROC difference."""
    by = {(c["task"], c["model"], c["strategy"], float(c["fraction"]), c["seed"]): c for c in cells}
    rows = []
    for (task, model, strategy, fraction, seed), a in sorted(by.items()):
        for claim, sa, sb, fr in CLAIMS:
            if strategy != sa:
                continue
            if fr == "same":
                fb = fraction
            elif fraction == fr[0]:
                fb = fr[1]
            else:
                continue
            b = by.get((task, model, sb, fb, seed))
            if b is None:
                continue
            pa = np.load(Path(out, "cells", f"{a['cell']}.npz"))
            pb = np.load(Path(out, "cells", f"{b['cell']}.npz"))
            if not np.array_equal(pa["test_true"], pb["test_true"], equal_nan=True):
                raise ValueError(f"{a['cell']} and {b['cell']} were scored on different test records")
            d = paired_difference(pa["test_true"].astype(np.float64), pa["test_prob"].astype(np.float64),
                                   pb["test_prob"].astype(np.float64), n_bootstrap, seed)
            verdict = ("holds" if d["difference"] >= 0 else "fails") + (
                " (difference not significant)" if d["lo"] <= 0 <= d["hi"] else " (CI excludes 0)")
            rows.append({"task": task, "model": model, "seed": seed, "claim": claim,
                         "a": f"{sa} {fraction:.0%}", "b": f"{sb} {fb:.0%}",
                         "auroc_a": a["test"]["macro"]["auroc"]["value"], "auroc_b": b["test"]["macro"]["auroc"]["value"],
                         "difference": d["difference"], "ci_lo": d["lo"], "ci_hi": d["hi"], "verdict": verdict})
    return pd.DataFrame(rows)


def claims_over_seeds(comp: pd.DataFrame) -> pd.DataFrame:
    """Each claim's per-seed checks pooled: mean difference a - b, its seed-to-seed SD, and how many seeds it held
    in (a - b >= 0) and failed significantly in (the seed's paired CI below 0)."""
    if not len(comp):
        return pd.DataFrame(columns=["task", "model", "claim", "a", "b", "seeds", "mean_difference", "sd",
                                     "holds", "fails_significantly"])
    grouped = comp.groupby(["task", "model", "claim", "a", "b"], sort=False)
    return grouped.agg(seeds=("seed", "count"), mean_difference=("difference", "mean"), sd=("difference", "std"),
                       holds=("difference", lambda d: int((d >= 0).sum())),
                       fails_significantly=("ci_hi", lambda hi: int((hi < 0).sum()))).reset_index()


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def markdown_report(cells: list[dict[str, Any]], tidy: pd.DataFrame, comp: pd.DataFrame,
                    missing: list[str] | None = None) -> str:
    """The grid as Markdown: settings, macro metrics with CIs, per-label AUROC, unscorable labels, claims."""
    s = cells[0]["settings"]
    seconds = sum(c["seconds"] for c in cells)
    budgets = {c["model"]: (c["settings"]["epochs"], c["settings"]["pretrain_epochs"]) for c in cells}
    parts = [
        "# Benchmark grid",
        "",
        f"{len(cells)} cells; batch {s['batch_size']}, lr {s['lr']}, accelerator {s['accelerator']}, "
        f"{'every cell starts from its (model, dataset) self-supervised encoder' if s['pretrain'] else 'no pretraining'}"
        f"; {seconds / 60:.0f} min of training and scoring in all (pretraining not included). Budget per model "
        "(epochs E at 100 % labels, ceil(E/sqrt f) at fraction f; self-supervised pretraining epochs P): "
        + ", ".join(f"{m} E={e}, P={p}" for m, (e, p) in budgets.items()) + ".",
        "",
        "Test metrics with percentile-bootstrap 95 % CIs over test records "
        f"({s['n_bootstrap']} replicates). Macro averages are over the scorable labels; F1 uses per-label "
        "thresholds chosen on validation (fold 9 for PTB-XL) to maximise F1 and applied unchanged to test. "
        "The tidy table with every label is `results.csv`.",
    ]
    for task in dict.fromkeys(c["task"] for c in cells):
        tc = [c for c in cells if c["task"] == task]
        tc.sort(key=lambda c: (c["model"], c["strategy"], c["fraction"], c["seed"]))
        parts += ["", f"## {task}", "",
                  f"Test records: {tc[0]['n_test_records']}; validation records: {tc[0]['n_val_records']}.", ""]
        rows = []
        for c in tc:
            m = c["test"]["macro"]
            rows.append([c["model"], c["strategy"], f"{c['fraction']:.0%}", c["seed"], c["n_train_records"],
                         c["epochs"], _ci(m["auroc"]["value"], m["auroc"]["lo"], m["auroc"]["hi"]),
                         _ci(m["auprc"]["value"], m["auprc"]["lo"], m["auprc"]["hi"]),
                         _ci(m["f1"]["value"], m["f1"]["lo"], m["f1"]["hi"]),
                         f"{c['calibration']['ece']:.3f}"])
        parts.append(_md_table(["model", "strategy", "labels", "seed", "train records", "epochs", "macro AUROC",
                                "macro AUPRC", "macro F1", "ECE"], rows))
        seeds = sorted({c["seed"] for c in tc})
        if len(seeds) > 1:
            mean = (tidy[(tidy.task == task) & (tidy.label == "macro") & (tidy.metric == "auroc")]
                    .groupby(["model", "strategy", "fraction"])["value"].agg(["mean", "std", "count"]).reset_index())
            parts += ["", f"Macro AUROC, mean over {len(seeds)} seeds (per-seed CIs above):", "",
                      _md_table(["model", "strategy", "labels", "mean", "sd", "seeds"],
                                [[r.model, r.strategy, f"{r.fraction:.0%}", f"{r['mean']:.3f}", f"{r['std']:.3f}",
                                  int(r['count'])] for _, r in mean.iterrows()])]
        labels = [r["label"] for r in tc[0]["test"]["per_label"]]
        if len(labels) > 1:
            parts += ["", "Per-label test AUROC (CIs in `results.csv`):", ""]
            rows = []
            for c in tc:
                per = {r["label"]: r["auroc"] for r in c["test"]["per_label"]}
                rows.append([c["model"], c["strategy"], f"{c['fraction']:.0%}", c["seed"],
                             *[f"{per[label]:.2f}" if per.get(label) is not None else "–" for label in labels]])
            parts.append(_md_table(["model", "strategy", "labels", "seed", *labels], rows))
        unscorable = tc[0]["test"]["unscorable"]
        if unscorable:
            parts += ["", "Not scorable on this test split (output by the models, not scored): "
                      + "; ".join(f"{u['label']} ({u['reason']})" for u in unscorable) + "."]
        tcomp = comp[comp.task == task] if len(comp) else comp
        if len(tcomp):
            parts += ["", "Post-training claims (paired bootstrap of the macro AUROC difference a - b on the same "
                      "test records):", "",
                      _md_table(["model", "seed", "claim", "a", "b", "AUROC a", "AUROC b", "a - b [95 % CI]", "verdict"],
                                [[r.model, r.seed, r.claim, r.a, r.b, f"{r.auroc_a:.3f}", f"{r.auroc_b:.3f}",
                                  _ci(r.difference, r.ci_lo, r.ci_hi), r.verdict] for _, r in tcomp.iterrows()])]
            pooled = claims_over_seeds(tcomp)
            if (pooled.seeds > 1).any():
                parts += ["", "The claims over seeds (mean of the per-seed differences; held: a - b >= 0; failed "
                          "significantly: the seed's CI below 0):", "",
                          _md_table(["model", "claim", "a", "b", "seeds", "mean a - b (sd)", "held in",
                                     "failed significantly in"],
                                    [[r.model, r.claim, r.a, r.b, r.seeds, f"{r.mean_difference:+.3f} ({r.sd:.3f})",
                                      f"{r.holds}/{r.seeds}", f"{r.fails_significantly}/{r.seeds}"]
                                     for _, r in pooled.iterrows()])]
    if missing:
        parts += ["", "## Cells of the requested grid that have not run", "",
                  f"{len(missing)} cell(s) were not run (not started yet, or stopped by --budget-minutes); the runner "
                  "resumes them: run the same `ecgscope benchmark` command again:", "",
                  *[f"- `{m}`" for m in missing]]
    return "\n".join(parts) + "\n"


def write_report(out: str | Path, n_bootstrap: int = 1000, expected: list[str] | None = None) -> list[Path]:
    """Write ``results.csv``, ``summary.csv``, ``comparisons.csv``, ``results.md`` and ``plots/`` under ``out``.

    ``expected`` (cell ids of the requested grid) lists the cells that have not run yet in ``results.md``.
    """
    from ecgscope.benchmark.plots import write_plots

    out = Path(out)
    cells = load_cells(out)
    if not cells:
        raise ValueError(f"{out}/cells holds no finished benchmark cells")
    tidy = tidy_table(cells)
    comp = comparisons(out, cells, n_bootstrap)
    written = []
    for name, frame in (("results.csv", tidy), ("summary.csv", summary_table(tidy)), ("comparisons.csv", comp)):
        frame.to_csv(out / name, index=False, float_format="%.4f")
        written.append(out / name)
    done = {c["cell"] for c in cells}
    missing = [m for m in (expected or []) if m not in done]
    (out / "results.md").write_text(markdown_report(cells, tidy, comp, missing))
    written.append(out / "results.md")
    written += write_plots(out, cells, tidy)
    return written
