"""``ecgscope models``, ``ecgscope tasks``, ``ecgscope train`` and ``ecgscope pretrain``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgscope.cli import app
from ecgscope.cli._output import check_name, console, print_json, table

DataDirOption = Annotated[
    str | None, typer.Option("--data-dir", help="Data directory (default: $ECGSCOPE_DATA_DIR or ../shared/data).")
]
DevicesOption = Annotated[int, typer.Option("--devices", help="Devices (GPUs or CPU processes); > 1 runs DDP.")]
NodesOption = Annotated[int, typer.Option("--num-nodes", help="Nodes for multi-node DDP.")]
AcceleratorOption = Annotated[str, typer.Option("--accelerator", help="auto, cpu, gpu...")]
ThreadsOption = Annotated[int | None, typer.Option("--threads", help="torch CPU threads (default: torch's).")]


@app.command()
def models(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Registered models: family, parameters and input contract."""
    from ecgscope.models import create_model, list_models, model_description, model_family

    rows = []
    for name in list_models():
        m = create_model(name)
        c = m.pretrained_cfg.input_contract
        rows.append({"model": name, "family": model_family(name), "params": m.num_params(),
                     "fs": c.fs, "window_samples": c.window_samples, "normalization": c.normalization,
                     "bandpass": list(c.bandpass) if c.bandpass else None, "description": model_description(name)})
    if json_out:
        print_json(rows)
        return
    console.print(table("Models", ["model", "family", "params", "fs", "window", "normalisation", "description"],
                        [[r["model"], r["family"], f"{r['params'] / 1e6:.2f} M", f"{r['fs']:g}", r["window_samples"],
                          r["normalization"] + (f" + bandpass {r['bandpass']}" if r["bandpass"] else ""),
                          r["description"]] for r in rows]))


@app.command()
def tasks(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Registered tasks: dataset, labels, input and split."""
    from ecgscope.tasks import TASKS

    rows = [{"task": t.name, "dataset": t.dataset, "input": t.input, "labels": list(t.labels),
             "split": {k: list(v) for k, v in t.split.items()}, "description": t.description} for t in TASKS.values()]
    if json_out:
        print_json(rows)
        return
    console.print(table("Tasks", ["task", "dataset", "input", "labels", "description"],
                        [[r["task"], r["dataset"], r["input"], len(r["labels"]), r["description"]] for r in rows]))


@app.command()
def train(
    model: Annotated[str, typer.Option("--model", help="Model name (ecgscope models).")] = "ssm",
    strategy: Annotated[str, typer.Option("--strategy", help="linear, frozen-attn, finetune, post-train, post-train-full, single-lead.")] = "post-train",
    task: Annotated[str, typer.Option("--task", help="Task name (ecgscope tasks).")] = "ptbxl17",
    data_dir: DataDirOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (bundle best.pt, metrics, logs).")] = Path("runs/train"),
    pretrained: Annotated[str | None, typer.Option("--pretrained", help="Bundle, encoder or foreign checkpoint.")] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs in all (split across a strategy's stages).")] = 20,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate of the head.")] = 1e-3,
    weight_decay: Annotated[float, typer.Option("--weight-decay")] = 0.05,
    layer_decay: Annotated[float | None, typer.Option("--layer-decay", help="Layer-wise LR decay (default: 0.75 with --pretrained, else 1).")] = None,
    patience: Annotated[int, typer.Option("--patience", help="Early-stopping patience (epochs) on val macro AUROC.")] = 6,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    lead: Annotated[str | None, typer.Option("--lead", help="Lead for single-lead training (default: I).")] = None,
    head: Annotated[str | None, typer.Option("--head", help="Override the strategy's head: linear, attn, ppa, "
                                             "pma, ipastmem.")] = None,
    input_name: Annotated[str | None, typer.Option("--input", help="Override the task's input, e.g. '12-lead 10 s'.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many training records (smoke runs).")] = None,
    max_steps: Annotated[int, typer.Option("--max-steps", help="Steps per stage (-1: no limit).")] = -1,
    augment: Annotated[str, typer.Option("--augment", help="Device augmentation of the training crops: none, devices, wearable.")] = "none",
    devices: DevicesOption = 1,
    num_nodes: NodesOption = 1,
    accelerator: AcceleratorOption = "auto",
    threads: ThreadsOption = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Train a classifier: model x adaptation strategy x task -> an ecgscope bundle (best.pt) and metrics."""
    import torch

    from ecgscope.models import HEADS, list_models
    from ecgscope.tasks import INPUTS, list_tasks
    from ecgscope.train import STRATEGIES, TrainConfig
    from ecgscope.train import train as run_train
    from ecgscope.train.augment import recipe_names

    check_name(model, list_models(), "model")
    check_name(strategy, list(STRATEGIES), "strategy")
    check_name(task, list_tasks(), "task")
    if head is not None:
        check_name(head, list(HEADS), "head")
    if input_name is not None:
        check_name(input_name, list(INPUTS), "input")
    check_name(augment, recipe_names(), "augmentation recipe")
    if threads:
        torch.set_num_threads(threads)
    cfg = TrainConfig(model=model, strategy=strategy, task=task, out_dir=str(out), data_dir=data_dir,
                      pretrained=pretrained, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                      layer_decay=layer_decay, patience=patience, seed=seed, lead=lead, head=head, input=input_name,
                      limit=limit, max_steps=max_steps, devices=devices, num_nodes=num_nodes, accelerator=accelerator,
                      progress=not no_progress, augment=augment)
    result = run_train(cfg)
    if not result.is_global_zero:  # another DDP process: rank 0 reports
        return
    m = result.metrics
    if json_out:
        print_json({"bundle": str(result.bundle), **m})
        return
    console.print(f"bundle: {result.bundle}")
    for part in ("val", "test"):
        if part in m:
            console.print(f"{part}: {m[part]['summary']}")
            if m[part]["unscorable"]:
                console.print(f"  not scored: {', '.join(u['label'] + ' (' + u['reason'] + ')' for u in m[part]['unscorable'])}")
    console.print(f"constant predictor (val): macro AUROC {m['constant_predictor_val_macro_auroc']:.3f}")


@app.command()
def pretrain(
    model: Annotated[str, typer.Option("--model", help="Model name (ecgscope models).")] = "ssm",
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset name, or 'challenge' with --root.")] = "ptbxl100",
    root: Annotated[str | None, typer.Option("--root", help="A folder of WFDB records (unlabeled).")] = None,
    data_dir: DataDirOption = None,
    objective: Annotated[list[str] | None, typer.Option("--objective", help="masked and/or contrastive (repeatable).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (encoder.pt, metrics, logs).")] = Path("runs/pretrain"),
    epochs: Annotated[int, typer.Option("--epochs")] = 10,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
    lr: Annotated[float, typer.Option("--lr")] = 1e-3,
    mask_ratio: Annotated[float, typer.Option("--mask-ratio", help="Share of each lead's patches hidden.")] = 0.5,
    fusion: Annotated[str, typer.Option("--fusion", help="What the masked decoder reads: 'last' (the last layer) or "
                                        "'ipastmem' (group-wise average of every layer, ECG-Soup).")] = "last",
    temperature: Annotated[float, typer.Option("--temperature", help="InfoNCE temperature.")] = 0.1,
    patience: Annotated[int, typer.Option("--patience")] = 5,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many training records.")] = None,
    max_steps: Annotated[int, typer.Option("--max-steps")] = -1,
    devices: DevicesOption = 1,
    num_nodes: NodesOption = 1,
    accelerator: AcceleratorOption = "auto",
    threads: ThreadsOption = None,
    no_progress: Annotated[bool, typer.Option("--no-progress")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Self-supervised pretraining on unlabeled records -> an encoder bundle for --pretrained."""
    import torch

    from ecgscope.datasets import DATASETS
    from ecgscope.models import list_models
    from ecgscope.train import OBJECTIVES, PretrainConfig
    from ecgscope.train import pretrain as run_pretrain

    check_name(model, list_models(), "model")
    check_name(dataset, [*DATASETS, "challenge"], "dataset")
    objectives = tuple(objective or OBJECTIVES)
    for o in objectives:
        check_name(o, list(OBJECTIVES), "objective")
    from ecgscope.train.objectives import MaskedReconstruction

    check_name(fusion, list(MaskedReconstruction.FUSIONS), "fusion")
    if threads:
        torch.set_num_threads(threads)
    cfg = PretrainConfig(model=model, dataset=dataset, root=root, data_dir=data_dir, objectives=objectives,
                         out_dir=str(out), epochs=epochs, batch_size=batch_size, lr=lr, mask_ratio=mask_ratio, fusion=fusion,
                         temperature=temperature, patience=patience, seed=seed, limit=limit, max_steps=max_steps,
                         devices=devices, num_nodes=num_nodes, accelerator=accelerator, progress=not no_progress)
    result = run_pretrain(cfg)
    if not result.is_global_zero:
        return
    if json_out:
        print_json({"bundle": str(result.bundle), **result.metrics})
        return
    console.print(f"encoder: {result.bundle}")
    console.print(f"best validation loss {result.metrics['best'].get('val_loss', float('nan')):.4f} "
                  f"(epoch {result.metrics['best'].get('epoch')})")
