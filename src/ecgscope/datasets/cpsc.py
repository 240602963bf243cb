"""China Physiological Signal Challenge samples: CPSC 2019 (QRS detection) and CPSC 2021 (paroxysmal AF)."""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import scipy.io
import wfdb

from ecgscope.datasets.base import ECGDataset
from ecgscope.datasets.mitdb import BeatAnnotations, read_beat_annotations
from ecgscope.datasets.splits import assign_group_folds
from ecgscope.labels import LABELS


class CPSC2019(ECGDataset):
    """CPSC 2019: 10-s single-lead 500 Hz ``.mat`` records with reference R peaks (:meth:`r_peaks`)."""

    name = "cpsc2019"
    subdir = "cpsc2019_sample"
    marker = "ref"
    description = "CPSC 2019 single lead, 500 Hz, 10 s, reference R peaks"
    load_fs = 500.0

    def _build_index(self):
        files = sorted((self.root / "data").glob("data_*.mat"))
        ids = [f.stem.split("_", 1)[1] for f in files]
        index = pd.DataFrame(
            {"record_id": ids, "patient_id": ids, "path": [str(f) for f in files], "start_s": np.nan,
             "duration_s": np.nan, "fold": assign_group_folds(ids, 10, seed=0)}
        )
        return index, np.full((len(ids), len(LABELS)), np.nan, dtype=np.float32)

    def r_peaks(self, i: int) -> np.ndarray:
        rid = self.index.iloc[i]["record_id"]
        return np.asarray(scipy.io.loadmat(self.root / "ref" / f"R_{rid}.mat")["R_peak"], dtype=np.int64).ravel()


class CPSC2021(ECGDataset):
    """CPSC 2021 2-lead 200 Hz records cut into windows, labelled AF from the annotated AF episodes.

    Record names are ``data_<patient>_<n>``, so windows are grouped by the patient number.
    """

    name = "cpsc2021"
    subdir = "cpsc2021_sample"
    marker = "RECORDS"
    description = "CPSC 2021 2 leads, 200 Hz, AF episodes; windows of 10 s"

    def __init__(self, root: str | os.PathLike | None = None, window_s: float = 10.0):
        super().__init__(root)
        self.window_s = float(window_s)

    def annotations(self, record_id: str) -> BeatAnnotations:
        return read_beat_annotations(str(self.root / record_id))

    def _build_index(self):
        ids = [r.strip() for r in (self.root / "RECORDS").read_text().split() if r.strip()]
        rows, labels = [], []
        af = LABELS.index("Atrial fibrillation")
        for rid in ids:
            ann = self.annotations(rid)
            header_cls = " ".join(wfdb.rdheader(str(self.root / rid)).comments or []).lower()
            step = int(round(self.window_s * ann.fs))
            af_spans = [(a, b) for a, b, r in ann.rhythm_intervals() if r.startswith("(AF")]
            if "persistent atrial fibrillation" in header_cls and not af_spans:
                af_spans = [(0, ann.n_samples)]
            m = re.match(r"data_(\d+)_", rid)
            pid = m.group(1) if m else rid
            for a in range(0, ann.n_samples - step + 1, step):
                lab = np.full(len(LABELS), np.nan, dtype=np.float32)
                lab[af] = float(any(s < a + step and e > a for s, e in af_spans))
                rows.append((rid, pid, str(self.root / f"{rid}.hea"), a / ann.fs, self.window_s))
                labels.append(lab)
        index = pd.DataFrame(rows, columns=["record_id", "patient_id", "path", "start_s", "duration_s"])
        index["fold"] = assign_group_folds(index["patient_id"], 10, seed=0)
        return index, np.asarray(labels, dtype=np.float32).reshape(-1, len(LABELS))

