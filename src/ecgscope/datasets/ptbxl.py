"""PTB-XL: 10-s clinical 12-lead ECGs with SCP-ECG statements (Wagner et al., Sci Data 2020)."""

from __future__ import annotations

import ast
import os

import numpy as np
import pandas as pd

from ecgscope.datasets.base import ECGDataset
from ecgscope.datasets.labelmap import CodeRules, load_label_map
from ecgscope.errors import MissingInputError

_ANNOTATOR_COLUMNS = ("baseline_drift", "static_noise", "burst_noise", "electrodes_problems", "extra_beats",
                      "pacemaker")


class PTBXL(ECGDataset):
    """PTB-XL from ``ptbxl_database.csv`` and ``records100/``/``records500/``.

    Parameters
    ----------
    root : path, optional
        Data directory holding ``ptbxl/`` (or the PTB-XL folder itself).
    sampling_rate : {500, 100}
        500 keeps only records that have a 500 Hz file; 100 uses every record.

    The index keeps ``scp_codes`` (dict of statement -> likelihood) and the annotator columns;
    ``fold`` is PTB-XL's ``strat_fold``.
    """

    name = "ptbxl"
    subdir = "ptbxl"
    marker = "ptbxl_database.csv"
    description = "PTB-XL 12-lead, 10 s, SCP-ECG statements, strat_fold"

    def __init__(self, root: str | os.PathLike | None = None, sampling_rate: int = 500):
        super().__init__(root)
        if sampling_rate not in (100, 500):
            raise ValueError(f"sampling_rate must be 100 or 500; got {sampling_rate}")
        self.sampling_rate = sampling_rate

    def scp_statements(self) -> pd.DataFrame:
        path = self.root / "scp_statements.csv"
        if not path.exists():
            raise MissingInputError("scp_statements.csv not found", source=str(path))
        return pd.read_csv(path, index_col=0)

    def _build_index(self):
        db = pd.read_csv(self.root / "ptbxl_database.csv")
        col = "filename_hr" if self.sampling_rate == 500 else "filename_lr"
        db = db[db[col].notna() & (db[col].astype(str).str.len() > 0)].copy()
        db["scp_codes"] = db["scp_codes"].apply(ast.literal_eval)
        stm = self.scp_statements()
        classes = {code: cls for code, cls in stm["diagnostic_class"].dropna().items()}
        rules = CodeRules(load_label_map("ptbxl"), classes)
        labels = np.stack(
            [rules(set(codes), {c: row[c] for c in _ANNOTATOR_COLUMNS})
             for codes, (_, row) in zip(db["scp_codes"], db.iterrows(), strict=True)]
        ) if len(db) else np.zeros((0, 17), np.float32)
        index = pd.DataFrame(
            {
                "record_id": db["ecg_id"].astype(int).astype(str).to_numpy(),
                "patient_id": db["patient_id"].astype(float).astype(int).astype(str).to_numpy(),
                "path": [str(self.root / f) for f in db[col]],
                "start_s": np.nan,
                "duration_s": np.nan,
                "fold": db["strat_fold"].astype(int).to_numpy(),
                "age": db["age"].to_numpy(),
                "sex": db["sex"].map({0: "M", 1: "F"}).to_numpy(),
                "scp_codes": db["scp_codes"].to_numpy(),
                **{c: db[c].to_numpy() for c in _ANNOTATOR_COLUMNS},
            }
        )
        return index, labels

    def superclass_labels(self) -> pd.DataFrame:
        """The 5 PTB-XL diagnostic superclasses (NORM, MI, STTC, CD, HYP) as 0/1 columns."""
        stm = self.scp_statements()
        classes = stm["diagnostic_class"].dropna()
        names = ["NORM", "MI", "STTC", "CD", "HYP"]
        rows = [[float(any(classes.get(c) == n for c in codes)) for n in names] for codes in self.index["scp_codes"]]
        return pd.DataFrame(rows, columns=names, dtype=np.float32)

    def rhythm_labels(self) -> pd.DataFrame:
        """One 0/1 column per PTB-XL rhythm statement present in this copy."""
        stm = self.scp_statements()
        rhythm = [c for c in stm.index[stm["rhythm"] == 1.0]]
        present = [c for c in rhythm if any(c in codes for codes in self.index["scp_codes"])]
        return pd.DataFrame([[float(c in codes) for c in present] for codes in self.index["scp_codes"]],
                            columns=present, dtype=np.float32)


class PTBXL100(PTBXL):
    """PTB-XL at 100 Hz: every record of the copy (``records100/``)."""

    name = "ptbxl100"
    description = "PTB-XL 12-lead, 10 s, 100 Hz (all records)"

    def __init__(self, root: str | os.PathLike | None = None):
        super().__init__(root, sampling_rate=100)
