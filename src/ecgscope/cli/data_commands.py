"""``ecgscope datasets``: what the data directory holds."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from ecgscope.cli import app
from ecgscope.cli._output import console, print_json, table
from ecgscope.config import resolve_data_dir
from ecgscope.datasets import DATASETS, open_dataset
from ecgscope.labels import LABELS

DataDirOption = Annotated[
    str | None, typer.Option("--data-dir", help="Data directory (default: $ECGSCOPE_DATA_DIR or ../shared/data).")
]


@app.command()
def datasets(
    data_dir: DataDirOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    read_all: Annotated[bool, typer.Option("--read-all", help="Read every record and report failures (slow).")] = False,
) -> None:
    """Datasets found under the data directory: counts, folds and positives per label."""
    root = resolve_data_dir(data_dir)
    found, counts = [], {}
    for name, cls in DATASETS.items():
        if not cls.available(root):
            continue
        ds = open_dataset(name, root)
        summary = ds.summary()
        if read_all:
            failures = []
            paths = ds.index.drop_duplicates("path")
            for i in paths.index:
                try:
                    ds.load(int(i))
                except Exception as exc:  # noqa: BLE001 - reported per record
                    failures.append({"record": ds.index.at[i, "record_id"], "error": str(exc)})
            summary["read"] = {"records": len(paths), "failed": failures}
        found.append(summary)
        counts[name] = ds.label_counts()
    if json_out:
        print_json({"data_dir": str(root), "datasets": found,
                    "labels": {n: c.replace({float("nan"): None}).to_dict(orient="index") for n, c in counts.items()}})
        return
    rows = [[s["dataset"], s["samples"], s["records"], s["patients"],
             " ".join(f"{k}:{v}" for k, v in s["folds"].items()),
             (f"{s['read']['records'] - len(s['read']['failed'])}/{s['read']['records']} read" if "read" in s else "")]
            for s in found]
    console.print(table(f"Datasets in {root}", ["dataset", "samples", "records", "patients", "folds", "read check"],
                        rows))
    frame = pd.DataFrame(
        {n: [f"{int(c.at[lab, 'positives'])}/{int(c.at[lab, 'assessed'])}" if c.at[lab, "assessed"] else "-"
             for lab in LABELS] for n, c in counts.items()},
        index=list(LABELS),
    )
    console.print(table("Positives / assessed per label ('-': the dataset does not assess the label)",
                        ["label", *frame.columns], [[lab, *frame.loc[lab].tolist()] for lab in LABELS]))
    if read_all and any(s["read"]["failed"] for s in found):
        raise typer.Exit(1)
