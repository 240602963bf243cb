"""The grid runner end to end on real data (LUDB, a tiny model), its scoring against scikit-learn, resume,
budget, the tidy table with unscorable labels, the report files and the CLI's input errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from ecgscope.benchmark import GridConfig, epochs_for_fraction, grid_cells, run_grid, tidy_table, write_report
from ecgscope.benchmark.report import load_cells, paired_difference
from ecgscope.benchmark.runner import score_predictions
from ecgscope.cli import main
from ecgscope.tasks import TASKS, Task, register_task

# LUDB does not assess ventricular tachycardia: the tables must list it as unscorable, not drop it
LUDB_LABELS = ("Sinus rhythm", "Right bundle branch block", "Ventricular tachycardia")


@pytest.fixture(scope="module")
def ludb_task():
    task = register_task(Task(name="ludb-bench-test", dataset="ludb", labels=LUDB_LABELS, input="12-lead 5 s",
                              description="LUDB test task (160 records, grouped folds)"))
    yield task
    TASKS.pop(task.name)


def _fixed_arrays():
    rng = np.random.default_rng(7)
    y = (rng.random((120, 3)) < [0.3, 0.1, 0.5]).astype(float)
    p = np.clip(0.35 * y + rng.random(y.shape) * 0.7, 0, 1)
    y[rng.random(y.shape) < 0.05] = np.nan
    y[:, 2] = np.where(np.isnan(y[:, 2]), np.nan, 0.0)  # third label: no positives in test
    return y, p


def test_scoring_matches_sklearn_on_fixed_arrays():
    y, p = _fixed_arrays()
    yv, pv = _fixed_arrays()
    res = score_predictions(("a", "b", "c"), pv, yv, p, y, n_bootstrap=50, seed=0)
    per = {r["label"]: r for r in res["test"]["per_label"]}
    assert set(per) == {"a", "b"}
    assert res["test"]["unscorable"] == [{"label": "c", "reason": "no positives"}]
    for j, name in enumerate(("a", "b")):
        m = ~np.isnan(y[:, j])
        assert per[name]["auroc"] == pytest.approx(roc_auc_score(y[m, j], p[m, j]), abs=1e-12)
        assert per[name]["auprc"] == pytest.approx(average_precision_score(y[m, j], p[m, j]), abs=1e-12)
        thr = res["thresholds"][name]
        assert per[name]["f1"] == pytest.approx(f1_score(y[m, j], p[m, j] >= thr), abs=1e-12)
        assert per[name]["auroc_lo"] <= per[name]["auroc"] <= per[name]["auroc_hi"]
    # the threshold is the validation F1 maximum: no other candidate beats it on validation
    m = ~np.isnan(yv[:, 0])
    best = max(f1_score(yv[m, 0], pv[m, 0] >= t) for t in np.unique(pv[m, 0]))
    assert f1_score(yv[m, 0], pv[m, 0] >= res["thresholds"]["a"]) == pytest.approx(best)
    macro = np.mean([per[n]["auroc"] for n in ("a", "b")])
    assert res["test"]["macro"]["auroc"]["value"] == pytest.approx(macro)
    # the paired difference is the difference of scikit-learn's macro AUROCs
    p2 = np.clip(p + np.random.default_rng(1).normal(0, 0.2, p.shape), 0, 1)
    d = paired_difference(y, p, p2, n_bootstrap=100, seed=0)
    ref = [roc_auc_score(y[~np.isnan(y[:, j]), j], q[~np.isnan(y[:, j]), j]) for q in (p, p2) for j in (0, 1)]
    assert d["difference"] == pytest.approx((ref[0] + ref[1]) / 2 - (ref[2] + ref[3]) / 2, abs=1e-12)
    assert d["lo"] <= d["difference"] <= d["hi"]


def test_epochs_per_fraction_and_grid_order():
    assert [epochs_for_fraction(2, f) for f in (1.0, 0.3, 0.1)] == [2, 4, 7]
    assert epochs_for_fraction(20, 1.0) == 20
    cfg = GridConfig(tasks=["ptbxl17"], models=["a", "b"], strategies=["linear", "finetune"], fractions=[0.1, 1.0],
                     seeds=[1], out="unused")
    cells = grid_cells(cfg)
    assert len(cells) == 8 and cells[0].model == "a" and cells[0].fraction == 1.0
    assert len({c.id for c in cells}) == 8
    with pytest.raises(ValueError, match="unknown device"):
        GridConfig(device="tpu")
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        GridConfig(fractions=[1.5])
    assert GridConfig(device="gpu").epochs == 20 and GridConfig().threads == 1
    # the CPU budget of the 500-Hz / 250-Hz foundation encoders is smaller, and part of their cells' settings
    cpu = GridConfig()
    assert cpu.budget("ecgfm_tiny") == (1, 1) and cpu.budget("ssm_tiny") == (2, 2)
    assert cpu.result_settings("ecgfm_tiny")["epochs"] == 1 and cpu.result_settings("ssm_tiny")["epochs"] == 2
    assert GridConfig(device="gpu").budget("ecgfm_tiny") == (20, 10)
    assert GridConfig(model_budgets={"ssm_tiny": {"epochs": 5}}).budget("ssm_tiny") == (5, 2)


def test_grid_runs_resumes_and_reports_on_real_data(ludb_task, data_dir, tmp_path):
    cfg = GridConfig(tasks=[ludb_task.name], models=["resnet1d_tiny"], strategies=["finetune", "post-train"],
                     fractions=[0.3, 1.0], seeds=[1], out=str(tmp_path / "grid"), data_dir=str(data_dir),
                     epochs=1, pretrain_epochs=1, batch_size=16, n_bootstrap=50)
    lines: list[str] = []
    run = run_grid(cfg, log=lines.append)
    assert len(run.ran) == 4 and not run.resumed and not run.remaining
    assert any(line.startswith("pretraining resnet1d_tiny on ludb") for line in lines)
    assert sum(line.startswith("[") for line in lines) == 4
    encoders = list((tmp_path / "grid" / "work" / "pretrain").glob("*/encoder.pt"))
    assert len(encoders) == 1  # one pretraining per (model, dataset), shared by every cell
    cells = load_cells(tmp_path / "grid")
    small = next(c for c in cells if c["fraction"] == 0.3)
    full = next(c for c in cells if c["fraction"] == 1.0)
    assert small["n_train_records"] < full["n_train_records"] == 128
    assert small["epochs"] == 2 and full["epochs"] == 1 and all(c["pretrained_encoder"] for c in cells)
    assert full["n_test_records"] == 16

    # resume: nothing is re-run; a budget of zero starts nothing new
    again = run_grid(cfg, log=lines.append)
    assert len(again.resumed) == 4 and not again.ran
    more = GridConfig(**{**cfg.__dict__, "fractions": (0.1, 0.3, 1.0), "budget_minutes": 0.0})
    cut = run_grid(more, log=lines.append)
    assert len(cut.remaining) == 2 and len(cut.resumed) == 4
    # results made with other settings are not mixed in
    with pytest.raises(ValueError, match="another --out"):
        run_grid(GridConfig(**{**cfg.__dict__, "epochs": 3}), log=lines.append)

    tidy = tidy_table(cells)
    vt = tidy[tidy.label == "Ventricular tachycardia"]
    assert len(vt) == 4 * 3 and (vt.status == "unscorable: not assessed by this dataset").all() and vt.value.isna().all()
    macro = tidy[(tidy.label == "macro") & (tidy.metric == "auroc")]
    assert len(macro) == 4 and macro.ci_lo.le(macro.value).all() and macro.value.le(macro.ci_hi).all()

    written = {p.name for p in write_report(tmp_path / "grid")}
    assert {"results.csv", "results.md", "summary.csv", "comparisons.csv", f"{ludb_task.name}_label_efficiency.png",
            f"{ludb_task.name}_per_label_auroc.png", f"{ludb_task.name}_reliability.png"} <= written
    md = (tmp_path / "grid" / "results.md").read_text()
    assert "Ventricular tachycardia (not assessed by this dataset)" in md and "post-train at 30 % >= finetune at 100 %" in md
    comp = pd.read_csv(tmp_path / "grid" / "comparisons.csv")
    assert len(comp) == 3  # equal data at 30 % and 100 %, and 30 % post-train vs 100 % finetune
    assert (comp.difference - (comp.auroc_a - comp.auroc_b)).abs().max() < 1e-3
    eff = pd.read_csv(tmp_path / "grid" / "plots" / f"{ludb_task.name}_label_efficiency.csv")
    assert len(eff) == 4 and set(eff.strategy) == {"finetune", "post-train"}
    json.loads((tmp_path / "grid" / "cells" / f"{full['cell']}.json").read_text())
    # cells of the requested grid that have not run are listed, not silently absent
    write_report(tmp_path / "grid", expected=[c.id for c in grid_cells(more)])
    md = (tmp_path / "grid" / "results.md").read_text()
    assert "2 cell(s) were not run (not started yet" in md and f"`{ludb_task.name}__resnet1d_tiny__finetune__f0.1__s1`" in md


def test_cli_rejects_bad_names_and_fractions(tmp_path, capsys):
    assert main(["benchmark", "--tasks", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown task nope" in capsys.readouterr().err
    assert main(["benchmark", "--models", "resnet9000", "--out", str(tmp_path)]) == 2
    assert main(["benchmark", "--label-fractions", "0.5,2", "--out", str(tmp_path)]) == 2
    assert "--label-fractions must be in (0, 1]" in capsys.readouterr().err
    assert main(["benchmark", "--device", "tpu", "--out", str(tmp_path)]) == 2
    assert main(["benchmark", "--model-epochs", "ssm_tiny=two", "--out", str(tmp_path)]) == 2
    assert "MODEL=E or MODEL=E/P" in capsys.readouterr().err
    assert main(["benchmark", "--report-only", "--out", str(tmp_path / "empty")]) == 2
    assert "no cells/ folder" in capsys.readouterr().err
