"""Where ecgscope finds data and keeps caches (one place for both)."""

from __future__ import annotations

import os
from pathlib import Path

from ecgscope.errors import MissingInputError

DATA_DIR_ENV = "ECGSCOPE_DATA_DIR"
CACHE_DIR_ENV = "ECGSCOPE_CACHE_DIR"


def _candidates() -> list[Path]:
    here = Path(__file__).resolve()
    found = []
    for base in (Path.cwd(), *Path.cwd().parents, *here.parents):
        found.append(base / "shared" / "data")
        found.append(base.parent / "shared" / "data")
    return found


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory: ``explicit`` > ``$ECGSCOPE_DATA_DIR`` > ``../shared/data`` near the repo.

    Raises :class:`MissingInputError` naming what was tried when none exists.
    """
    if explicit is not None:
        p = Path(explicit).expanduser()
        if not p.is_dir():
            raise MissingInputError("data directory does not exist", source=str(p))
        return p.resolve()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        p = Path(env).expanduser()
        if not p.is_dir():
            raise MissingInputError(f"${DATA_DIR_ENV} points to a missing directory", source=str(p))
        return p.resolve()
    for cand in _candidates():
        if cand.is_dir():
            return cand.resolve()
    raise MissingInputError(
        f"no data directory found: pass --data-dir, set ${DATA_DIR_ENV}, or place the data at ../shared/data"
    )


def cache_dir() -> Path:
    """Cache root: ``$ECGSCOPE_CACHE_DIR`` or ``~/.cache/ecgscope`` (created on demand)."""
    p = Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "ecgscope")
    p.mkdir(parents=True, exist_ok=True)
    return p
