"""PhysioNet/CinC Challenge 2017: single-lead AliveCor ECGs, classes N / A / O / ~."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgscope.datasets.base import ECGDataset
from ecgscope.datasets.labelmap import load_label_map
from ecgscope.datasets.splits import assign_group_folds
from ecgscope.labels import LABELS

CINC2017_CLASSES = ("N", "A", "O", "~")


class CinC2017(ECGDataset):
    """CinC 2017 records with their ``REFERENCE.csv`` class (column ``cinc_class``).

    The Challenge publishes no patient identifiers, so each record is its own group for splits
    (stated, not assumed away: records of one person could in principle land in different folds).
    """

    name = "cinc2017"
    subdir = "cinc2017"
    marker = "REFERENCE.csv"
    description = "CinC 2017 single lead (AliveCor), 300 Hz, 9-61 s, N/A/O/~"

    def _build_index(self):
        ref = pd.read_csv(self.root / "REFERENCE.csv", header=None, names=["record", "cls"])
        ref["record"] = ref["record"].astype(str).str.strip()
        ref["cls"] = ref["cls"].astype(str).str.strip()
        ref = ref[[(self.root / f"{r}.hea").exists() for r in ref["record"]]].reset_index(drop=True)
        spec = load_label_map("cinc2017")["classes"]
        labels = np.full((len(ref), len(LABELS)), np.nan, dtype=np.float32)
        for i, cls in enumerate(ref["cls"]):
            for label, value in spec.get(cls, {}).items():
                labels[i, LABELS.index(label)] = value
        index = pd.DataFrame(
            {
                "record_id": ref["record"],
                "patient_id": ref["record"],
                "path": [str(self.root / f"{r}.hea") for r in ref["record"]],
                "start_s": np.nan,
                "duration_s": np.nan,
                "fold": assign_group_folds(ref["record"], 10, seed=0),
                "cinc_class": ref["cls"],
            }
        )
        return index, labels
