"""MIT-BIH Arrhythmia Database: 30-min 2-lead ambulatory ECGs with beat-by-beat reference labels."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import wfdb

from ecgscope.datasets.base import ECGDataset
from ecgscope.datasets.labelmap import load_label_map
from ecgscope.datasets.splits import assign_group_folds
from ecgscope.labels import LABELS

# WFDB beat annotation codes (annotations that are beats, not rhythm/quality markers)
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
# ANSI/AAMI EC57 beat classes of the WFDB beat codes: N normal and bundle-branch-block beats (and escape
# beats), S supraventricular ectopic, V ventricular ectopic, F fusion, Q paced and unclassifiable
AAMI_CLASS = {**dict.fromkeys("NLRBej", "N"), **dict.fromkeys("AaJSn", "S"), **dict.fromkeys("VrE", "V"),
              "F": "F", **dict.fromkeys("/fQ?", "Q")}


@dataclass
class BeatAnnotations:
    """Reference annotations of one record."""

    fs: float
    n_samples: int
    beat_samples: np.ndarray  # sample of every beat annotation
    beat_symbols: np.ndarray  # its WFDB code
    rhythm_starts: np.ndarray  # sample where each rhythm starts
    rhythms: list[str]  # "(N", "(AFIB", ...
    # signal-quality changes (``~``): sample and subtype (0 = clean; bits 0-3: that signal noisy, 4-7: unreadable)
    noise_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    noise_subtypes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def rhythm_intervals(self) -> list[tuple[int, int, str]]:
        if not len(self.rhythm_starts):
            return []
        ends = list(self.rhythm_starts[1:]) + [self.n_samples]
        return [(int(a), int(b), r) for a, b, r in zip(self.rhythm_starts, ends, self.rhythms, strict=True)]

    def noisy_samples(self, start: int, stop: int, signal: int | None = None) -> int:
        """How many samples of [start, stop) lie in a stretch annotated noisy or unreadable in any signal
        (``signal=None``) or in signal ``signal`` (0: the first lead).

        A ``~`` annotation's subtype says which signals are noisy from there on: a bit mask (bits 0-3: that
        signal noisy, bits 4-7: unreadable; 0: clean again) or -1, every signal unreadable (MIT-BIH's
        annotation conventions).
        """
        if not len(self.noise_starts):
            return 0
        ends = np.append(self.noise_starts[1:], self.n_samples)
        total = 0
        for a, b, sub in zip(self.noise_starts, ends, self.noise_subtypes, strict=True):
            if sub != 0 and (signal is None or sub == -1 or (int(sub) >> signal) & 1
                             or (int(sub) >> (4 + signal)) & 1):
                total += max(0, min(int(b), stop) - max(int(a), start))
        return total


def read_beat_annotations(base: str, extension: str = "atr") -> BeatAnnotations:
    """Beats and rhythm changes of a WFDB record's reference annotation file."""
    header = wfdb.rdheader(base)
    ann = wfdb.rdann(base, extension)
    sym = np.asarray(ann.symbol)
    samples = np.asarray(ann.sample, dtype=np.int64)
    is_beat = np.isin(sym, list(BEAT_SYMBOLS))
    aux = np.asarray([(a or "").strip("\x00 ") for a in ann.aux_note])
    is_rhythm = (sym == "+") & (aux != "")
    is_noise = sym == "~"
    subtypes = np.asarray(ann.subtype, dtype=np.int64)
    return BeatAnnotations(float(header.fs), int(header.sig_len), samples[is_beat], sym[is_beat],
                           samples[is_rhythm], [str(a) for a in aux[is_rhythm]], samples[is_noise],
                           subtypes[is_noise])


def window_labels(ann: BeatAnnotations, start: int, stop: int, spec: dict, noise_signal: int | None = None
                  ) -> np.ndarray:
    """(17,) labels of samples [start, stop) from a beat/rhythm label spec (``mitdb.json``); ``noise_signal``:
    the signal whose noise marks count (None: either signal's)."""
    out = np.full(len(LABELS), np.nan, dtype=np.float32)
    in_win = (ann.beat_samples >= start) & (ann.beat_samples < stop)
    beats = ann.beat_symbols[in_win]
    active = {r for a, b, r in ann.rhythm_intervals() if a < stop and b > start}
    for label, rule in spec.items():
        hit = bool(set(rule.get("beats", [])) & set(beats.tolist()))
        hit |= bool(active & set(rule.get("rhythms", [])))
        if "majority_beats" in rule and beats.size:
            hit |= bool(np.isin(beats, rule["majority_beats"]).mean() > 0.5)
        if "noise_fraction" in rule:
            hit |= ann.noisy_samples(start, stop, noise_signal) >= rule["noise_fraction"] * (stop - start)
        out[LABELS.index(label)] = float(hit)
    return out


class MITBIH(ECGDataset):
    """MIT-BIH records cut into non-overlapping windows (default 10 s) labelled from the annotations."""

    name = "mitdb"
    subdir = "mitdb"
    marker = "RECORDS"
    description = "MIT-BIH Arrhythmia, 2 leads, 360 Hz, beat labels; windows of 10 s"
    label_map = "mitdb"

    def __init__(self, root: str | os.PathLike | None = None, window_s: float = 10.0, noise_signal: int | None = None):
        """``noise_signal``: Poor data quality from the noise marks of that signal only (0: the first lead, what a
        single-lead model reading it sees); default either signal's (the record's quality)."""
        super().__init__(root)
        self.window_s = float(window_s)
        self.noise_signal = noise_signal

    def record_ids(self) -> list[str]:
        return [ln.strip() for ln in (self.root / "RECORDS").read_text().split() if ln.strip()
                and (self.root / f"{ln.strip()}.hea").exists()]

    def annotations(self, record_id: str) -> BeatAnnotations:
        return read_beat_annotations(str(self.root / str(record_id)))

    def _patient_of(self, record_id: str) -> str:
        return record_id  # the 100-series records are 23 different people

    def _build_index(self):
        spec = load_label_map(self.label_map)["labels"]
        rows, labels = [], []
        for rid in self.record_ids():
            ann = self.annotations(rid)
            step = int(round(self.window_s * ann.fs))
            for a in range(0, ann.n_samples - step + 1, step):
                rows.append((rid, self._patient_of(rid), str(self.root / f"{rid}.hea"), a / ann.fs, self.window_s))
                labels.append(window_labels(ann, a, a + step, spec, self.noise_signal))
        index = pd.DataFrame(rows, columns=["record_id", "patient_id", "path", "start_s", "duration_s"])
        index["fold"] = assign_group_folds(index["patient_id"], 10, seed=0)
        return index, np.asarray(labels, dtype=np.float32).reshape(-1, len(LABELS))
