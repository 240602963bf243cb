"""LUDB: 10-s 12-lead ECGs with per-lead P/QRS/T delineation by cardiologists (Kalyakulina et al. 2020)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import wfdb

from ecgscope.datasets.base import ECGDataset
from ecgscope.datasets.labelmap import load_label_map
from ecgscope.datasets.splits import assign_group_folds
from ecgscope.errors import MissingInputError
from ecgscope.labels import LABELS
from ecgscope.leads import STANDARD_LEADS

# annotation file extension per standard lead
LUDB_LEAD_EXT = dict(zip(STANDARD_LEADS, ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"),
                         strict=True))
WAVES = {"p": "P", "N": "QRS", "t": "T"}


def parse_wave_annotations(samples: np.ndarray, symbols: list[str]) -> dict[str, np.ndarray]:
    """Pair ``( peak )`` triples into (n, 3) int arrays [onset, peak, offset] per wave (P, QRS, T).

    An onset or offset missing next to its peak is -1 (LUDB omits a few at record edges).
    """
    out: dict[str, list[list[int]]] = {w: [] for w in WAVES.values()}
    for k, sym in enumerate(symbols):
        if sym not in WAVES:
            continue
        on = int(samples[k - 1]) if k > 0 and symbols[k - 1] == "(" else -1
        off = int(samples[k + 1]) if k + 1 < len(symbols) and symbols[k + 1] == ")" else -1
        out[WAVES[sym]].append([on, int(samples[k]), off])
    return {w: np.asarray(v, dtype=np.int64).reshape(-1, 3) for w, v in out.items()}


class LUDB(ECGDataset):
    """LUDB records with ``ludb.csv`` diagnoses and per-lead wave annotations (:meth:`annotations`)."""

    name = "ludb"
    subdir = "ludb"
    marker = "ludb.csv"
    description = "LUDB 12-lead, 10 s, 500 Hz, expert P/QRS/T delineation per lead"

    def _build_index(self):
        meta = pd.read_csv(self.root / "ludb.csv")
        meta["ID"] = meta["ID"].astype(int)
        data = self.root / "data"
        ids = sorted(int(p.stem) for p in data.glob("*.hea"))
        meta = meta.set_index("ID").reindex(ids)
        spec = load_label_map("ludb")["labels"]
        labels = np.full((len(ids), len(LABELS)), np.nan, dtype=np.float32)
        for r, rid in enumerate(ids):
            row = meta.loc[rid]
            for label, cols in spec.items():
                hit = False
                for col, phrases in cols.items():
                    text = str(row.get(col, "") if pd.notna(row.get(col)) else "").lower()
                    hit |= any(ph in text for ph in phrases)
                labels[r, LABELS.index(label)] = float(hit)
        pids = [str(i) for i in ids]  # one patient per LUDB record
        index = pd.DataFrame(
            {
                "record_id": [str(i) for i in ids],
                "patient_id": pids,
                "path": [str(data / f"{i}.hea") for i in ids],
                "start_s": np.nan,
                "duration_s": np.nan,
                "fold": assign_group_folds(pids, 10, seed=0),
                "rhythm": meta["Rhythms"].astype(str).str.strip().to_numpy(),
            }
        )
        return index, labels

    def annotations(self, i: int) -> dict[str, dict[str, np.ndarray]]:
        """Expert waves of row ``i``: ``{lead: {"P"|"QRS"|"T": (n, 3) [onset, peak, offset] samples}}``."""
        base = str(self.root / "data" / self.index.iloc[i]["record_id"])
        out = {}
        for lead, ext in LUDB_LEAD_EXT.items():
            try:
                ann = wfdb.rdann(base, ext)
            except FileNotFoundError:
                raise MissingInputError(f"annotation file .{ext} missing", source=base) from None
            out[lead] = parse_wave_annotations(ann.sample, list(ann.symbol))
        return out
