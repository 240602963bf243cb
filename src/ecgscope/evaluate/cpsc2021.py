"""The CPSC 2021 challenge's own score for AF episodes (paroxysmal AF detection in dynamic ECG).

Per record (the rule of the challenge's ``score_2021.py``, written here from its definition):

* the record's class is predicted from the episodes: none -> non-AF (0), one covering the whole record
  (end - start = length - 1) -> persistent AF (1), else paroxysmal AF (2); ``Ur`` is the challenge's matrix
  entry ``R[true, predicted]`` with ``R = [[1, -1, -0.5], [-2, 1, 0], [-1, 0, 1]]``;
* for AF records, every predicted episode earns its onset's and its end's value in the challenge's endpoint masks
  (1 within one annotation of the true endpoint, 0.5 within two; for persistent AF, anything before the third
  annotation after the onset counts as an onset and anything after the third before the end as an end), and
  ``Ue`` is their sum times ``M_a / max(M_a, M_r)`` (true / predicted episode counts);
* the record scores ``Ur + Ue``; the challenge reports the mean over records.

The annotation positions of the masks are every annotation of the ``.atr`` file (beats and rhythm changes), as in
the challenge's code; AF starts are the ``(AFIB``/``(AFL`` annotations and ends the ``(N`` annotations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

R = np.array([[1.0, -1.0, -0.5], [-2.0, 1.0, 0.0], [-1.0, 0.0, 1.0]])
CLASSES = ("non-AF", "persistent AF", "paroxysmal AF")


@dataclass
class Cpsc2021Reference:
    """A record's truth: class, signal length, every annotation's sample, AF starts/ends (annotation indices)."""

    record_class: int
    n_samples: int
    positions: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def read(cls, base: str) -> Cpsc2021Reference:
        import wfdb

        header = wfdb.rdheader(base)
        ann = wfdb.rdann(base, "atr")
        note = np.array([(a or "").strip("\x00 ") for a in ann.aux_note])
        text = " ".join(header.comments or []).lower()
        kind = 0 if "non atrial fibrillation" in text else 1 if "persistent atrial fibrillation" in text else 2
        starts = np.flatnonzero((note == "(AFIB") | (note == "(AFL"))
        ends = np.flatnonzero(note == "(N")
        return cls(kind, int(header.sig_len), np.asarray(ann.sample, dtype=np.int64), starts, ends)

    def episodes(self) -> list[tuple[int, int]]:
        """The true AF episodes in samples (persistent AF without an end annotation runs to the record's end)."""
        ends = list(self.positions[self.ends])
        out = []
        for s in self.positions[self.starts]:
            later = [e for e in ends if e > s]
            out.append((int(s), int(later[0]) if later else self.n_samples - 1))
            if later:
                ends.remove(later[0])
        return out

    def burden(self) -> float:
        return sum(e - s + 1 for s, e in self.episodes()) / self.n_samples

    def masks(self) -> tuple[np.ndarray, np.ndarray]:
        """The challenge's onset and end score masks over the record's samples."""
        n, loc = self.n_samples, self.positions
        on, off = np.zeros(n), np.zeros(n)
        last = len(loc) - 1

        def at(i: int) -> int:
            return int(loc[min(max(i, 0), last)])

        for s in self.starts:
            if self.record_class == 2:
                if s - 1 <= 0:
                    on[: at(s + 2)] += 1
                elif s - 2 <= 0:
                    on[at(s - 1): at(s + 2)] += 1
                    on[: at(s - 1)] += 0.5
                else:
                    on[at(s - 1): at(s + 2)] += 1
                    on[at(s - 2): at(s - 1)] += 0.5
                on[at(s + 2): at(s + 3)] += 0.5
            elif self.record_class == 1:
                on[: at(s + 2)] += 1
                on[at(s + 2): at(s + 3)] += 0.5
        ends = self.ends if self.ends.size or self.record_class != 1 else np.array([last])
        for e in ends:
            if self.record_class == 2:
                if e + 1 >= last:
                    off[at(e - 2):] += 1
                elif e + 2 >= last:
                    off[at(e - 2): at(e + 1)] += 1
                    off[at(e + 1):] += 0.5
                else:
                    off[at(e - 2): at(e + 1)] += 1
                    off[at(e + 1): min(at(e + 2), n - 1)] += 0.5
                off[at(e - 3): at(e - 2)] += 0.5
            elif self.record_class == 1:
                off[at(e - 2):] += 1
                off[at(e - 3): at(e - 2)] += 0.5
        return on, off


def predicted_class(episodes: list[tuple[int, int]], n_samples: int) -> int:
    if not episodes:
        return 0
    if len(episodes) == 1 and episodes[0][1] - episodes[0][0] == n_samples - 1:
        return 1
    return 2


def record_score(ref: Cpsc2021Reference, episodes: list[tuple[int, int]]) -> dict:
    """``Ur + Ue`` of one record's predicted episodes (samples), with both parts and the burden error."""
    cls = predicted_class(episodes, ref.n_samples)
    ur = float(R[ref.record_class, cls])
    ue = 0.0
    if ref.record_class in (1, 2) and episodes:
        on, off = ref.masks()
        total = sum(on[min(int(s), ref.n_samples - 1)] + off[min(int(e), ref.n_samples - 1)] for s, e in episodes)
        ma = max(1, len(ref.episodes()))
        ue = float(total * ma / max(ma, len(episodes)))
    burden = sum(e - s + 1 for s, e in episodes) / ref.n_samples
    return {"true_class": CLASSES[ref.record_class], "predicted_class": CLASSES[cls], "ur": ur, "ue": ue,
            "score": ur + ue, "true_burden": ref.burden(), "predicted_burden": burden,
            "burden_error": abs(burden - ref.burden())}
