"""What every benchmark script writes besides its own figures: the machine, its load, the command."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def write_results(name: str, payload: dict, out: str | os.PathLike) -> Path:
    """Write ``payload`` (plus the benchmark's name, command, machine and load) as JSON to ``out``."""
    record = {"benchmark": name, "command": f"python benchmarks/{name}.py " + " ".join(sys.argv[1:]),
              "machine": platform.machine(), "cpu_count": os.cpu_count(),
              "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()], **payload}
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def write_table_and_results(name: str, lines: list[str], payload: dict) -> None:
    """Print the Markdown table ``lines`` and write it as ``results/<name>.md``, with the JSON beside it."""
    md = "\n".join(lines) + "\n"
    print(md)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(md)
    write_results(name, payload, RESULTS / f"{name}.json")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``k / n`` (NaN for n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def rate_cell(k: int, n: int) -> str:
    """A table cell for the proportion ``k / n``: rate, 95 % Wilson interval and counts."""
    if n == 0:
        return "– (none)"
    lo, hi = wilson(k, n)
    return f"{k / n:.1%} [{lo:.1%}, {hi:.1%}] ({k}/{n})"
