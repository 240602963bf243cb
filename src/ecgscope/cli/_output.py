"""Printing helpers shared by the commands: JSON to stdout, tables through rich."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

# piped output is read by scripts and logs: do not fold it at 80 columns
console = Console(width=None if sys.stdout.isatty() else 200)


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON on stdout (NaN/inf become null)."""
    print(json.dumps(_clean(obj), indent=2, default=_default))


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    return t


def check_name(name: str, valid: list[str] | tuple[str, ...], what: str) -> None:
    """Exit 2 with the valid names when ``name`` is not one of them (an unknown model, backend, ...)."""
    if name not in valid:
        typer.echo(f"error: unknown {what} {name!r}; valid: {', '.join(valid)}", err=True)
        raise typer.Exit(2)
