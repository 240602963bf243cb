"""Train the limb-electrode reversal detector (:mod:`ecgscope.signal.lead_reversal`) on PTB-XL.

Every record of PTB-XL's folds 1-8 is taken as recorded and with each of the five limb swaps applied exactly
(a signed permutation of the limb leads), and a multinomial logistic model learns the six classes from the
median-beat features.  The threshold on P(a detectable swap) is the 99th percentile of the unswapped records of fold 9
(at most 1 % of correctly recorded validation ECGs flagged), never below 0.5.  Fold 10 is not read.

    python -m ecgscope.train.lead_reversal --data-dir ../shared/data      # writes signal/lead_reversal.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ecgscope.datasets import open_dataset
from ecgscope.leads import STANDARD_LEADS
from ecgscope.signal.lead_reversal import (
    CLASSES,
    LIMB_SWAPS,
    WEIGHTS_FILE,
    ReversalModel,
    apply_limb_swap,
    median_beats,
    reversal_features,
)

TRAIN_FOLDS = tuple(range(1, 9))
VAL_FOLDS = (9,)
MIN_THRESHOLD = 0.5
VAL_FALSE_POSITIVE_QUANTILE = 0.99


def swapped_features(signal: np.ndarray, fs: float) -> np.ndarray | None:
    """(6, n_features): the record's features as recorded and under each swap (None: too few beats)."""
    beat = median_beats(signal, fs)
    if beat is None:
        return None
    # the swaps permute and negate leads, so the median beat of a swapped record is the swapped median beat
    return np.stack([reversal_features(beat)] + [reversal_features(apply_limb_swap(beat, s)) for s in LIMB_SWAPS])


def dataset_features(name: str, data_dir: str | None, folds: tuple[int, ...] | None = None) -> np.ndarray:
    """(n_records, 6, n_features) for a 12-lead dataset's records (in ``folds``) that have 3 whole beats."""
    ds = open_dataset(name, data_dir)
    rows = np.arange(len(ds)) if folds is None else np.flatnonzero(ds.index["fold"].isin(folds).to_numpy())
    feats = []
    for i in rows:
        rec = ds.load(int(i)).select_leads(list(STANDARD_LEADS))
        f = swapped_features(rec.signal, rec.fs)
        if f is not None:
            feats.append(f)
    return np.stack(feats)


def fit(train: np.ndarray, val: np.ndarray, c: float = 1.0) -> ReversalModel:
    """Multinomial logistic model on (n, 6, f) training features; threshold from the unswapped val records."""
    from sklearn.linear_model import LogisticRegression

    n, k, f = train.shape
    x = train.reshape(n * k, f)
    y = np.tile(np.arange(k), n)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    clf = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, y)
    model = ReversalModel(mean, scale, clf.coef_, clf.intercept_, 1.0, {})
    p_swap = model.swap_probability(val[:, 0])
    threshold = max(MIN_THRESHOLD, float(np.quantile(p_swap, VAL_FALSE_POSITIVE_QUANTILE)))
    training = {"data": "PTB-XL (100 Hz) folds 1-8, each record as recorded and under the 5 limb swaps",
                "records": int(n), "threshold_from": f"{VAL_FALSE_POSITIVE_QUANTILE:.0%} quantile of P(swap) on the "
                f"{len(val)} unswapped PTB-XL fold-9 records (at least {MIN_THRESHOLD})", "C": c,
                "classes": list(CLASSES)}
    return ReversalModel(mean, scale, clf.coef_, clf.intercept_, threshold, training)


def main(argv: list[str] | None = None) -> int:
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    train = dataset_features("ptbxl100", args.data_dir, TRAIN_FOLDS)
    val = dataset_features("ptbxl100", args.data_dir, VAL_FOLDS)
    model = fit(train, val)
    args.out.write_text(json.dumps(model.to_json(), indent=1) + "\n")
    p_swap = model.swap_probability(val.reshape(-1, val.shape[-1])).reshape(len(val), len(CLASSES))
    se = ", ".join(f"{s} {np.mean(p_swap[:, CLASSES.index(s)] >= model.threshold):.1%}" for s in LIMB_SWAPS)
    print(f"wrote {args.out} ({len(train)} training records, {time.perf_counter() - t0:.0f} s); threshold "
          f"{model.threshold:.3f}; PTB-XL fold 9: false positives {np.mean(p_swap[:, 0] >= model.threshold):.1%}; "
          f"sensitivity {se}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
