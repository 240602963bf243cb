"""``ecgscope benchmark``: the tasks x models x strategies x label-fractions grid, and its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgscope.cli import app
from ecgscope.cli._output import check_name, console


def _names(value: str, valid: list[str], what: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in valid]
    if bad or not names:
        typer.echo(f"error: unknown {what} {', '.join(bad) or repr(value)}; valid: {', '.join(valid)}", err=True)
        raise typer.Exit(2)
    return names


def _numbers(value: str, kind: type, what: str) -> list:
    try:
        return [kind(v) for v in value.split(",") if v.strip()]
    except ValueError:
        typer.echo(f"error: {what} must be a comma-separated list of numbers, got {value!r}", err=True)
        raise typer.Exit(2) from None


@app.command()
def benchmark(
    tasks: Annotated[str, typer.Option("--tasks", help="Comma-separated task names (ecgscope tasks).")] = "ptbxl17,cinc2017-af",
    models: Annotated[str, typer.Option("--models", help="Comma-separated model names.")] = "ssm_tiny,resnet1d_small,ecgfm_tiny",
    strategies: Annotated[str, typer.Option("--strategies", help="Comma-separated strategies.")] = "linear,finetune,post-train",
    label_fractions: Annotated[str, typer.Option("--label-fractions", help="Shares of the training patients, e.g. 0.1,0.3,1.0.")] = "0.1,0.3,1.0",
    seeds: Annotated[str, typer.Option("--seeds", help="N (runs seeds 1..N) or a comma-separated list of seeds, e.g. 4,5.")] = "1",
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder (cells/, results.csv/md, plots/).")] = Path("benchmarks/results/grid"),
    work_dir: Annotated[Path | None, typer.Option("--work-dir", help="Encoders, bundles and logs (default OUT/work).")] = None,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="Data directory (default: $ECGSCOPE_DATA_DIR).")] = None,
    device: Annotated[str, typer.Option("--device", help="cpu (1 thread, small epochs) or gpu (larger budget).")] = "cpu",
    epochs: Annotated[int | None, typer.Option("--epochs", help="Epochs at 100 % labels (cells at fraction f: ceil(E/sqrt f)).")] = None,
    pretrain_epochs: Annotated[int | None, typer.Option("--pretrain-epochs", help="Self-supervised epochs per (model, dataset).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size")] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="torch CPU threads (cpu default: 1).")] = None,
    model_epochs: Annotated[list[str] | None, typer.Option("--model-epochs", help="Per-model budget MODEL=E/P (epochs / pretraining epochs), repeatable; replaces the device profile's.")] = None,
    no_pretrain: Annotated[bool, typer.Option("--no-pretrain", help="Start every cell from random weights.")] = False,
    n_bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap replicates for the test CIs.")] = 1000,
    budget_minutes: Annotated[float | None, typer.Option("--budget-minutes", help="Start no new cell after this much wall time; re-run to resume.")] = None,
    report_only: Annotated[bool, typer.Option("--report-only", help="Only rewrite tables and plots from OUT/cells.")] = False,
) -> None:
    """Run the benchmark grid (resumable) and write the results table (CSV + Markdown) and plots."""
    from ecgscope.benchmark import GridConfig, grid_cells, run_grid, write_report
    from ecgscope.models import list_models
    from ecgscope.tasks import list_tasks
    from ecgscope.train import STRATEGIES

    check_name(device, ("cpu", "gpu"), "device")
    # the grid options are checked in both modes: with --report-only they say which cells have not run yet
    seed_values = _numbers(seeds, int, "--seeds")
    seed_list = list(range(1, seed_values[0] + 1)) if len(seed_values) == 1 else seed_values
    fractions = _numbers(label_fractions, float, "--label-fractions")
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        typer.echo(f"error: --label-fractions must be in (0, 1], got {label_fractions!r}", err=True)
        raise typer.Exit(2)
    if not seed_list or any(s < 0 for s in seed_list):
        typer.echo(f"error: --seeds must be a positive count or a list of seeds, got {seeds!r}", err=True)
        raise typer.Exit(2)
    budgets = None
    if model_epochs:
        budgets = {}
        for item in model_epochs:
            name, _, value = item.partition("=")
            try:
                e, _, p = value.partition("/")
                budgets[name.strip()] = {"epochs": int(e), **({"pretrain_epochs": int(p)} if p else {})}
            except ValueError:
                typer.echo(f"error: --model-epochs takes MODEL=E or MODEL=E/P, got {item!r}", err=True)
                raise typer.Exit(2) from None
    cfg = GridConfig(tasks=_names(tasks, list_tasks(), "task"), models=_names(models, list_models(), "model"),
                     strategies=_names(strategies, list(STRATEGIES), "strategy"), fractions=fractions,
                     seeds=seed_list, out=str(out), work_dir=str(work_dir) if work_dir else None,
                     data_dir=data_dir, device=device, epochs=epochs, pretrain_epochs=pretrain_epochs,
                     batch_size=batch_size, threads=threads, model_budgets=budgets, pretrain=not no_pretrain,
                     n_bootstrap=n_bootstrap, budget_minutes=budget_minutes)
    if not report_only:
        console.print(f"benchmark: {len(cfg.tasks)} task(s) x {len(cfg.models)} model(s) x {len(cfg.strategies)} "
                      f"strategies x {len(cfg.fractions)} fraction(s) x {len(cfg.seeds)} seed(s); device {cfg.device}, "
                      f"{cfg.threads or 'default'} thread(s); epochs at 100 % labels / pretraining epochs: "
                      + ", ".join(f"{m} {'/'.join(map(str, cfg.budget(m)))}" for m in cfg.models))
        run = run_grid(cfg, log=lambda m: console.print(m, highlight=False))
        console.print(f"{len(run.ran)} cell(s) run, {len(run.resumed)} resumed, {len(run.remaining)} left "
                      f"({run.seconds / 60:.1f} min)")
    if not (out / "cells").is_dir():
        typer.echo(f"error: {out}: no cells/ folder with benchmark results", err=True)
        raise typer.Exit(2)
    written = write_report(out, expected=[c.id for c in grid_cells(cfg)])
    for p in written:
        console.print(f"wrote {p}")
