"""Benchmark plots (matplotlib, Agg): label-efficiency curves, per-label AUROC bars, reliability diagrams.

Every PNG has a CSV next to it holding exactly the numbers drawn.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STRATEGY_COLORS = {"linear": "#1f77b4", "frozen-attn": "#9467bd", "finetune": "#ff7f0e", "post-train": "#2ca02c",
                   "post-train-full": "#d62728",
                   "single-lead": "#8c564b"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _color(strategy: str) -> str:
    return STRATEGY_COLORS.get(strategy, "#7f7f7f")


def label_efficiency(tidy: pd.DataFrame, task: str, path: Path) -> list[Path]:
    """Macro AUROC vs label fraction, one panel per model, one line per strategy (mean over seeds, CI bars)."""
    plt = _pyplot()
    d = tidy[(tidy.task == task) & (tidy.label == "macro") & (tidy.metric == "auroc")]
    data = (d.groupby(["model", "strategy", "fraction"])
            .agg(auroc=("value", "mean"), ci_lo=("ci_lo", "mean"), ci_hi=("ci_hi", "mean"), seeds=("seed", "nunique"))
            .reset_index())
    models = list(dict.fromkeys(d.model))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.8), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, model in zip(axes[0], models, strict=True):
        for strategy, g in data[data.model == model].groupby("strategy", sort=False):
            g = g.sort_values("fraction")
            yerr = np.vstack([g.auroc - g.ci_lo, g.ci_hi - g.auroc])
            ax.errorbar(g.fraction * 100, g.auroc, yerr=yerr, marker="o", capsize=3, label=strategy,
                        color=_color(strategy))
        ax.set_xscale("log")
        ticks = sorted(data.fraction.unique() * 100)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_title(model)
        ax.set_xlabel("labelled training patients (%)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test macro AUROC (95 % CI)")
    axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{task}: label efficiency")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    data.to_csv(path.with_suffix(".csv"), index=False, float_format="%.4f")
    return [path, path.with_suffix(".csv")]


def per_label_bars(tidy: pd.DataFrame, task: str, fraction: float, path: Path) -> list[Path]:
    """Per-label test AUROC at one label fraction: one panel per model, one bar per strategy; unscorable marked."""
    plt = _pyplot()
    d = tidy[(tidy.task == task) & (tidy.metric == "auroc") & (tidy.label != "macro")
             & np.isclose(tidy.fraction, fraction)]
    data = (d.groupby(["model", "strategy", "label"], sort=False)
            .agg(auroc=("value", "mean"), ci_lo=("ci_lo", "mean"), ci_hi=("ci_hi", "mean"), status=("status", "first"))
            .reset_index())
    labels = list(dict.fromkeys(d.label))
    models = list(dict.fromkeys(d.model))
    strategies = list(dict.fromkeys(d.strategy))
    width = 0.8 / max(1, len(strategies))
    fig, axes = plt.subplots(len(models), 1, figsize=(max(6, 0.6 * len(labels) + 2), 2.6 * len(models) + 2.2),
                             sharex=True, squeeze=False, layout="constrained")
    x = np.arange(len(labels))
    for ax, model in zip(axes[:, 0], models, strict=True):
        for k, strategy in enumerate(strategies):
            g = data[(data.model == model) & (data.strategy == strategy)].set_index("label").reindex(labels)
            vals = g.auroc.to_numpy(dtype=float)
            err = np.vstack([vals - g.ci_lo.to_numpy(dtype=float), g.ci_hi.to_numpy(dtype=float) - vals])
            with warnings.catch_warnings():
                # matplotlib's error-bar check converts a (2, 1) array to a scalar for single-label tasks
                warnings.filterwarnings("ignore", message="Conversion of an array with ndim > 0", category=DeprecationWarning)
                ax.bar(x + (k - (len(strategies) - 1) / 2) * width, np.nan_to_num(vals), width,
                       yerr=np.nan_to_num(err), capsize=1.5, label=strategy, color=_color(strategy))
        status = data[data.model == model].drop_duplicates("label").set_index("label").reindex(labels).status
        for i, st in enumerate(status):
            if isinstance(st, str) and st.startswith("unscorable"):
                ax.text(i, 0.52, "unscorable", rotation=90, ha="center", va="bottom", fontsize=7, color="#555")
        ax.axhline(0.5, color="#999", lw=0.8, ls="--")
        ax.set_ylim(0.0, 1.0)
        ax.set_ylabel(f"{model}\nAUROC")
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(ncol=len(strategies), fontsize=8, loc="lower left")
    axes[-1, 0].set_xticks(x, labels, rotation=60, ha="right", fontsize=8)
    fig.suptitle(f"{task}: per-label test AUROC at {fraction:.0%} labels (95 % CI)")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    data.to_csv(path.with_suffix(".csv"), index=False, float_format="%.4f")
    return [path, path.with_suffix(".csv")]


def reliability(out: Path, cells: list[dict[str, Any]], task: str, fraction: float, path: Path) -> list[Path]:
    """Reliability diagrams of the test probabilities (all labels pooled), one column per model.

    Top row: the raw probabilities (class-weighted training pushes them up); bottom row: after per-label Platt
    scaling fitted on the validation split, the calibration step ecgscope ships with a model.
    """
    from ecgscope.calibrate import PlattScaling
    from ecgscope.evaluate.calibration import expected_calibration_error, reliability_curve

    plt = _pyplot()
    chosen = [c for c in cells if c["task"] == task and np.isclose(c["fraction"], fraction)]
    rows = []
    for c in chosen:
        pred = np.load(Path(out, "cells", f"{c['cell']}.npz"))
        raw = pred["test_prob"].astype(np.float64)
        calibrated = PlattScaling().fit(pred["val_prob"].astype(np.float64), pred["val_true"]).predict_proba(raw)
        for kind, probs in (("raw", raw), ("platt (validation)", calibrated)):
            r = reliability_curve(pred["test_true"], probs)
            ece = expected_calibration_error(pred["test_true"], probs)
            for b in range(len(r["count"])):
                rows.append({"model": c["model"], "strategy": c["strategy"], "seed": c["seed"], "probabilities": kind,
                             "bin": b, "bin_lo": r["edges"][b], "bin_hi": r["edges"][b + 1], "count": r["count"][b],
                             "mean_predicted": r["mean_predicted"][b], "observed": r["observed"][b], "ece": ece})
    data = pd.DataFrame(rows)
    models = list(dict.fromkeys(c["model"] for c in chosen))
    kinds = ("raw", "platt (validation)")
    fig, axes = plt.subplots(2, len(models), figsize=(max(4.6, 3.6 * len(models)), 7.2), squeeze=False, layout="constrained")
    for col, model in enumerate(models):
        for row, kind in enumerate(kinds):
            ax = axes[row, col]
            ax.plot([0, 1], [0, 1], color="#999", lw=0.8, ls="--")
            sub = data[(data.model == model) & (data.probabilities == kind)]
            for (strategy, seed), g in sub.groupby(["strategy", "seed"], sort=False):
                g = g[g["count"] > 0]
                ax.plot(g.mean_predicted, g.observed, marker="o", ms=3, color=_color(strategy),
                        label=f"{strategy} s{seed}: ECE {g.ece.iloc[0]:.3f}")
            ax.set_title(f"{model}, {kind}", fontsize=9)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.legend(fontsize=7, loc="upper left")
            ax.set_xlabel("mean predicted probability", fontsize=8)
            if col == 0:
                ax.set_ylabel("observed frequency", fontsize=8)
    fig.suptitle(f"{task}: test reliability at {fraction:.0%} labels (labels pooled)", fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    data.to_csv(path.with_suffix(".csv"), index=False, float_format="%.4f")
    return [path, path.with_suffix(".csv")]


def write_plots(out: Path, cells: list[dict[str, Any]], tidy: pd.DataFrame) -> list[Path]:
    """All plots of a grid under ``out/plots``: per task, label efficiency plus bars and reliability at the
    largest label fraction."""
    plots = Path(out) / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for task in dict.fromkeys(c["task"] for c in cells):
        top = max(c["fraction"] for c in cells if c["task"] == task)
        written += label_efficiency(tidy, task, plots / f"{task}_label_efficiency.png")
        written += per_label_bars(tidy, task, top, plots / f"{task}_per_label_auroc.png")
        written += reliability(out, cells, task, top, plots / f"{task}_reliability.png")
    return written
