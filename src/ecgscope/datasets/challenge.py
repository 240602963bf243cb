"""Folders in the PhysioNet/CinC Challenge 2020/2021 format: ``.hea`` (with ``# Dx:`` SNOMED codes) + ``.mat``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ecgscope.config import resolve_data_dir
from ecgscope.datasets.base import ECGDataset
from ecgscope.datasets.labelmap import CodeRules, load_label_map
from ecgscope.datasets.splits import assign_group_folds
from ecgscope.errors import MissingInputError
from ecgscope.io.wfdb_format import parse_header_comments


def _read_comments(hea: Path) -> list[str]:
    return [ln[1:].strip() for ln in hea.read_text(encoding="latin-1").splitlines() if ln.startswith("#")]


class ChallengeFolder(ECGDataset):
    """Every record under a folder (recursively) whose header carries ``# Dx:`` codes.

    The Challenge data holds no patient identifiers; each record is its own group for splits.
    ``root`` is the folder itself (it has no fixed name inside the data directory).
    """

    name = "challenge"
    subdir = ""
    marker = ""
    description = "PhysioNet/CinC 2020/2021 format folder (.hea + .mat, SNOMED Dx)"

    def __init__(self, root: str | os.PathLike):
        self.root = self.locate(root)

    @classmethod
    def locate(cls, root=None) -> Path:
        base = Path(root) if root is not None else resolve_data_dir(None)
        if not base.is_dir():
            raise MissingInputError("Challenge folder not found", source=str(base))
        if not any(cls._headers(base)):
            raise MissingInputError("no Challenge-format headers (# Dx:) found", source=str(base))
        return base

    @staticmethod
    def _headers(base: Path):
        for hea in sorted(base.rglob("*.hea")):
            if any(c.lower().startswith("dx:") for c in _read_comments(hea)):
                yield hea

    def _build_index(self):
        rules = CodeRules(load_label_map("challenge"))
        rows, labels = [], []
        for hea in self._headers(self.root):
            meta = parse_header_comments(_read_comments(hea))
            dx = set(meta.get("dx", []))
            rows.append((hea.stem, hea.stem, str(hea), np.nan, np.nan, ",".join(sorted(dx))))
            labels.append(rules(dx))
        index = pd.DataFrame(rows, columns=["record_id", "patient_id", "path", "start_s", "duration_s", "dx"])
        index["fold"] = assign_group_folds(index["patient_id"], 10, seed=0)
        return index, np.asarray(labels, dtype=np.float32).reshape(len(rows), -1)
