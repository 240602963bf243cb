"""Beat classification scored the way ANSI/AAMI EC57 does (bxb's class statistics).

Reference beats (AAMI classes N, S, V, F, Q) are matched one-to-one with detected beats inside 150 ms
(:func:`~ecgscope.evaluate.fiducials.match_events`); the first 5 minutes are a learning period and are not
scored.  The confusion matrix has a row per reference class plus ``X`` (a detection with no reference beat)
and a column per predicted class plus ``O`` (a reference beat not detected), so a missed beat costs its class
sensitivity and an extra detection costs the positive predictivity of the class it was given.

Per class (N, S, V): Se = correct / all reference beats of the class (missed ones included); +P = correct /
all beats given the class, where, as EC57 prescribes, fusion (F) and unclassifiable (Q) reference beats given
the class are not counted against it.  Statistics are **gross** over records; :func:`bootstrap_ci` resamples
records (patients) for their confidence intervals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecgscope.evaluate.fiducials import BXB_SKIP_S, BXB_TOLERANCE_S, match_events

REFERENCE_ROWS = ("N", "S", "V", "F", "Q", "X")
PREDICTED_COLUMNS = ("N", "S", "V", "O")
SCORED_CLASSES = ("N", "S", "V")


def beat_confusion(ref_samples: np.ndarray, ref_classes: Sequence[str], det_samples: np.ndarray,
                   det_classes: Sequence[str], fs: float, *, skip_s: float = BXB_SKIP_S,
                   tolerance_s: float = BXB_TOLERANCE_S) -> np.ndarray:
    """(6, 4) counts, rows ``REFERENCE_ROWS``, columns ``PREDICTED_COLUMNS`` (module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> c = beat_confusion(np.array([100, 400, 700]), ["N", "V", "N"], np.array([102, 398, 900]),
    ...                    ["N", "V", "S"], fs=360, skip_s=0)
    >>> c[0].tolist(), c[2].tolist(), c[5].tolist()   # N: one right, one missed; V right; X given S
    ([1, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0])
    """
    ref = np.asarray(ref_samples, dtype=np.int64)
    det = np.asarray(det_samples, dtype=np.int64)
    rc = np.asarray(ref_classes)
    dc = np.asarray(det_classes)
    start = skip_s * fs
    conf = np.zeros((len(REFERENCE_ROWS), len(PREDICTED_COLUMNS)), np.int64)
    ri, di = match_events(ref, det, tolerance_s * fs)
    row = {c: i for i, c in enumerate(REFERENCE_ROWS)}
    col = {c: i for i, c in enumerate(PREDICTED_COLUMNS)}
    for r, d in zip(ri, di, strict=True):
        if ref[r] >= start:
            conf[row[str(rc[r])], col[str(dc[d])]] += 1
    missed = np.ones(ref.size, bool)
    missed[ri] = False
    for r in np.flatnonzero(missed & (ref >= start)):
        conf[row[str(rc[r])], col["O"]] += 1
    extra = np.ones(det.size, bool)
    extra[di] = False
    for d in np.flatnonzero(extra & (det >= start)):
        conf[row["X"], col[str(dc[d])]] += 1
    return conf


def class_statistics(conf: np.ndarray) -> dict[str, dict[str, float | int]]:
    """Se and +P (%) of N, S and V from a confusion matrix (module docstring for the EC57 rule)."""
    out = {}
    counted = [REFERENCE_ROWS.index(r) for r in ("N", "S", "V", "X")]
    for c in SCORED_CLASSES:
        i, j = REFERENCE_ROWS.index(c), PREDICTED_COLUMNS.index(c)
        tp = int(conf[i, j])
        total = int(conf[i].sum())
        given = int(conf[counted, j].sum())
        out[c] = {"tp": tp, "reference": total, "given": given,
                  "se": 100.0 * tp / total if total else float("nan"),
                  "ppv": 100.0 * tp / given if given else float("nan")}
    return out


def bootstrap_ci(per_record: Sequence[np.ndarray], n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict[str, dict[str, tuple[float, float]]]:
    """Percentile CIs of the gross Se and +P of each class, resampling records with replacement."""
    confs = np.asarray(per_record)
    rng = np.random.default_rng(seed)
    draws = {c: {"se": [], "ppv": []} for c in SCORED_CLASSES}
    for _ in range(n_boot):
        s = class_statistics(confs[rng.integers(0, len(confs), len(confs))].sum(axis=0))
        for c in SCORED_CLASSES:
            for k in ("se", "ppv"):
                draws[c][k].append(s[c][k])
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2

    def interval(v: list[float]) -> tuple[float, float]:
        v = np.asarray(v)[np.isfinite(v)]  # a resample with no beat of the class has no Se/+P
        return (float(np.percentile(v, lo)), float(np.percentile(v, hi))) if v.size else (float("nan"),) * 2

    return {c: {k: interval(v) for k, v in d.items()} for c, d in draws.items()}
