"""Train the AAMI beat classifier (:mod:`ecgscope.signal.beat_classes`) on the beat-labelled records here.

Training beats are ecgscope's own detections (:func:`~ecgscope.signal.peaks.ecg_peaks`), each labelled with the
AAMI class of the reference beat it matches within 150 ms (unmatched detections are left out), so the
classifier learns on the fiducials it will see.  Sources: the MIT-BIH 100-series and the CPSC 2021 sample
(its AF records teach that an irregular beat in AF is not ectopic).  Records with paced beats are left out, as
EC57 leaves them out of beat-classification statistics.

Two binary ``HistGradientBoostingClassifier`` models with monotonic constraints (module docstring of
:mod:`~ecgscope.signal.beat_classes`): V against the rest, then S against N on the beats that are not V.  The
rare classes are up-weighted by (n / n_class) ** ``CLASS_WEIGHT_POWER``.  S training beats are augmented with
normal beats made premature in their RR features (:func:`premature_copies`).  The recipe was chosen by
leave-one-record-out scores on these records (``benchmarks/beat_classes_mitdb.py``); MIT-BIH's 200-series, the
usual inter-patient test set, is not here.

    python -m ecgscope.train.beat_classifier --data-dir ../shared/data   # writes signal/weights/beat_classifier.npz
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgscope.datasets import open_dataset
from ecgscope.datasets.mitdb import AAMI_CLASS
from ecgscope.evaluate.beat_classes import beat_confusion
from ecgscope.evaluate.fiducials import BXB_TOLERANCE_S, match_events
from ecgscope.io import load_record
from ecgscope.signal.beat_classes import (
    BEAT_CLASSES,
    WEIGHTS_FILE,
    BeatClassifier,
    TreeEnsemble,
    classify_features,
)
from ecgscope.signal.beat_features import BEAT_FEATURES, RR_FEATURES, beat_features
from ecgscope.signal.peaks import ecg_peaks

SOURCES = ("mitdb", "cpsc2021")
CLASS_WEIGHT_POWER = 0.5
PREMATURE_COPIES = 20000
TREE_PARAMS = {"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 15, "l2_regularization": 1.0}
# +1: P(V) may only rise with the feature, -1: only fall
V_MONOTONE = {
    "qrs_outlier": 1, "rms_outlier": 1, "dominant_diff_rms": 1, "worst_diff_rms": 1, "dominant_width_ratio": 1,
    "dominant_corr_qrs": -1, "worst_corr_qrs": -1, "dominant_corr_beat": -1, "worst_corr_beat": -1,
    "pre_local": -1,
}
S_MONOTONE = {"pre_local": -1, "pre_long": -1}


@dataclass
class LabelledBeats:
    """One record's detected beats, their features and the reference beats they are scored against."""

    record_id: str
    group: str  # the patient: no group is on both sides of a split
    source: str
    fs: float
    peaks: np.ndarray
    features: np.ndarray
    labels: np.ndarray  # AAMI class of the matched reference beat, "-" where none matches
    ref_samples: np.ndarray
    ref_classes: np.ndarray


def _group(source: str, record_id: str) -> str:
    m = re.match(r"data_(\d+)_", record_id)
    return f"{source}:{m.group(1) if m else record_id}"


def collect(data_dir: str | Path, sources: Sequence[str] = SOURCES) -> list[LabelledBeats]:
    """Every beat-labelled record of ``sources`` without paced beats, detected, featured and labelled."""
    out = []
    for name in sources:
        ds = open_dataset(name, data_dir)
        ids = [r.strip() for r in (ds.root / "RECORDS").read_text().split() if r.strip()]
        for rid in ids:
            ann = ds.annotations(rid)
            ref_cls = np.asarray([AAMI_CLASS.get(s, "Q") for s in ann.beat_symbols])
            if np.isin(ann.beat_symbols, ["/", "f"]).any():
                continue  # paced record
            rec = load_record(str(ds.root / rid))
            peaks = ecg_peaks(rec)
            ri, di = match_events(ann.beat_samples, peaks, BXB_TOLERANCE_S * rec.fs)
            labels = np.full(peaks.size, "-", dtype="<U1")
            labels[di] = ref_cls[ri]
            out.append(LabelledBeats(rid, _group(name, rid), name, rec.fs, peaks, beat_features(rec, None, peaks),
                                     labels, ann.beat_samples, ref_cls))
    return out


def premature_copies(X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` normal beats (rows of ``X``) with RR features of a premature beat: 55-85 % of the local RR before
    it and a pause after it that does not fully compensate."""
    Z = X[rng.integers(0, len(X), n)].copy()
    col = {f: i for i, f in enumerate(RR_FEATURES)}
    pre = rng.uniform(0.55, 0.85, n)
    post = 1.0 + (1.0 - pre) * rng.uniform(0.1, 0.9, n)
    Z[:, col["pre_local"]] = pre
    Z[:, col["post_local"]] = post
    Z[:, col["pre_post"]] = pre / post
    Z[:, col["post_minus_pre_local"]] = post - pre
    Z[:, col["pre_long"]] = pre * Z[:, col["local_long"]]
    Z[:, col["next_pre_local"]] = post
    return Z


def _training_arrays(records: Sequence[LabelledBeats]) -> tuple[np.ndarray, np.ndarray]:
    X, y = [], []
    for r in records:
        keep = np.isin(r.labels, ["N", "S", "V", "F"])
        lab = np.where(r.labels[keep] == "F", "V", r.labels[keep])  # fusion trains as V
        X.append(r.features[keep])
        y.append(np.searchsorted(np.asarray(BEAT_CLASSES), lab))
    return np.concatenate(X), np.concatenate(y)


def _binary(X: np.ndarray, target: np.ndarray, monotone: dict[str, int], seed: int) -> TreeEnsemble:
    from sklearn.ensemble import HistGradientBoostingClassifier

    cst = [monotone.get(f, 0) for f in BEAT_FEATURES]
    w = np.where(target == 1, (target.size / max(int(target.sum()), 1)) ** CLASS_WEIGHT_POWER, 1.0)
    model = HistGradientBoostingClassifier(**TREE_PARAMS, monotonic_cst=cst, random_state=seed)
    model.fit(X, target, sample_weight=w)
    return TreeEnsemble.from_sklearn(model, tuple(range(len(BEAT_FEATURES))))


def fit_classifier(records: Sequence[LabelledBeats], seed: int = 0) -> BeatClassifier:
    """The two tree models on the beats of ``records`` (module docstring)."""
    X, y = _training_arrays(records)
    rng = np.random.default_rng(seed)
    Z = premature_copies(X[y == 0], PREMATURE_COPIES, rng)
    X, y = np.concatenate([X, Z]), np.concatenate([y, np.ones(len(Z), np.int64)])
    v_model = _binary(X, (y == 2).astype(np.int64), V_MONOTONE, seed)
    not_v = y != 2
    s_model = _binary(X[not_v], (y[not_v] == 1).astype(np.int64), S_MONOTONE, seed)
    groups = sorted({r.group for r in records})
    info = f"trained on {len(records)} records ({len(groups)} patients) of {', '.join(sorted({r.source for r in records}))}"
    return BeatClassifier(v_model, s_model, BEAT_FEATURES, info)


def confusion_of(record: LabelledBeats, classifier: BeatClassifier, skip_s: float) -> np.ndarray:
    classes, _ = classify_features(record.features, classifier)
    return beat_confusion(record.ref_samples, record.ref_classes, record.peaks, classes, record.fs, skip_s=skip_s)


def leave_one_patient_out(records: Sequence[LabelledBeats], seed: int = 0,
                          skip_s: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Per record, the EC57 confusion matrix of a classifier trained on every other patient's records."""
    skip_s = skip_s or {"mitdb": 300.0}
    out = {}
    for g in sorted({r.group for r in records}):
        clf = fit_classifier([r for r in records if r.group != g], seed)
        for r in records:
            if r.group == g:
                out[r.record_id] = confusion_of(r, clf, skip_s.get(r.source, 0.0))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--out", default=str(WEIGHTS_FILE))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    records = collect(args.data_dir)
    clf = fit_classifier(records)
    clf.save(args.out)
    X, y = _training_arrays(records)
    print(f"{clf.info}: {len(y)} beats (N {int((y == 0).sum())}, S {int((y == 1).sum())}, V {int((y == 2).sum())}); "
          f"wrote {args.out} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
