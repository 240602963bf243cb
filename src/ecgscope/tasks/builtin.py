"""The tasks ecgscope ships.  Each is one declaration."""

from __future__ import annotations

import numpy as np

from ecgscope.datasets import ECGDataset
from ecgscope.datasets.cinc2017 import CINC2017_CLASSES
from ecgscope.datasets.multisource import TWELVE_LEAD_SOURCES, loso_test_folds
from ecgscope.labels import LABELS
from ecgscope.tasks._base import Task, register_task
from ecgscope.tasks.multisource import MultiSourceTask
from ecgscope.tasks.transfer import TransferTask

CINC2017_CLASS_NAMES = ("Normal rhythm", "Atrial fibrillation", "Other rhythm", "Noisy")


def cinc2017_classes(dataset: ECGDataset) -> np.ndarray:
    """One-hot N / A / O / ~ from CinC 2017's ``REFERENCE.csv`` class."""
    cls = dataset.index["cinc_class"].to_numpy(str)
    return np.stack([(cls == c) for c in CINC2017_CLASSES], axis=1).astype(np.float32)


register_task(Task(
    name="ptbxl17", dataset="ptbxl100", labels=LABELS, input="12-lead 5 s",
    description="The 17 ECG-FM labels on all 2980 PTB-XL records (100 Hz, resampled to the model's fs); "
                "5-s windows, record probability from the windows (max/mean per label); folds 1-8/9/10",
))

register_task(Task(
    name="ptbxl17-500", dataset="ptbxl", labels=LABELS, input="12-lead 5 s",
    description="The 17 ECG-FM labels on the 800 PTB-XL records that have 500-Hz signals; folds 1-8/9/10",
))

register_task(Task(
    name="cinc2017-af", dataset="cinc2017", labels=("Atrial fibrillation",), input="single-lead 5 s",
    description="AF vs rest on CinC 2017 single-lead records (noisy records are 'not assessed' for AF); "
                "grouped folds 1-8/9/10",
))

register_task(Task(
    name="cinc2017-naos", dataset="cinc2017", labels=CINC2017_CLASS_NAMES, input="single-lead 5 s",
    targets=cinc2017_classes,
    description="CinC 2017 classes N / A / O / ~ (one-hot, one sigmoid per class); grouped folds 1-8/9/10",
))

PTBXL_SUPERCLASSES = ("NORM", "MI", "STTC", "CD", "HYP")
# every rhythm statement of scp_statements.csv (rhythm == 1); rare ones are listed as unscorable where a split
# holds no positives
PTBXL_RHYTHMS = ("SR", "AFIB", "STACH", "SARRH", "SBRAD", "PACE", "SVARR", "BIGU", "AFLT", "SVTAC", "PSVT", "TRIGU")


def _not_assessed_without_any(y: np.ndarray) -> np.ndarray:
    """Rows with no statement of the family at all are 'not assessed' (NaN), not negatives for every class."""
    y = np.asarray(y, dtype=np.float32).copy()
    y[y.sum(axis=1) == 0] = np.nan
    return y


def ptbxl_superclasses(dataset: ECGDataset) -> np.ndarray:
    """NORM / MI / STTC / CD / HYP from scp_statements' diagnostic_class (records without one: NaN)."""
    return _not_assessed_without_any(dataset.superclass_labels()[list(PTBXL_SUPERCLASSES)].to_numpy())


def ptbxl_rhythms(dataset: ECGDataset) -> np.ndarray:
    """One column per PTB-XL rhythm statement (records without any rhythm statement: NaN)."""
    present = dataset.rhythm_labels()
    y = np.stack([present[c].to_numpy() if c in present else np.zeros(len(dataset)) for c in PTBXL_RHYTHMS], axis=1)
    return _not_assessed_without_any(y)


_METRICS = "metrics: per-label and macro AUROC, AUPRC, F1 at the validation-chosen threshold, bootstrap 95 % CIs"

register_task(Task(
    name="ptbxl-super", dataset="ptbxl100", labels=PTBXL_SUPERCLASSES, input="12-lead 10 s",
    targets=ptbxl_superclasses,
    description="PTB-XL diagnostic superclasses NORM/MI/STTC/CD/HYP (scp_statements diagnostic_class, any "
                "likelihood; the 60 records without a diagnostic statement are not assessed); input 12-lead 10 s "
                f"(100 Hz copy); split folds 1-8 train / 9 val / 10 test (patients never cross); {_METRICS}",
))

register_task(Task(
    name="ptbxl-rhythm", dataset="ptbxl100", labels=PTBXL_RHYTHMS, input="12-lead 10 s", targets=ptbxl_rhythms,
    description="PTB-XL's 12 rhythm statements (SR, AFIB, STACH, SARRH, SBRAD, PACE, SVARR, BIGU, AFLT, SVTAC, "
                "PSVT, TRIGU; records without a rhythm statement are not assessed); input 12-lead 10 s; split "
                f"folds 1-8 / 9 / 10; {_METRICS} (rare statements without test positives are listed unscorable)",
))

_AF = ("Atrial fibrillation",)

register_task(TransferTask(
    name="ptbxl-to-cinc2017-af", dataset="ptbxl100", target="cinc2017", target_folds=(10,), labels=_AF,
    input="single-lead 5 s",
    description="zero-shot transfer: AF vs rest from lead I of PTB-XL (train folds 1-8, validation fold 9) tested "
                "on CinC 2017 fold 10 (the cinc2017-af test records; noisy records not assessed); input "
                f"single-lead 5 s; {_METRICS}",
))

register_task(TransferTask(
    name="ptbxl-to-cpsc2021-af", dataset="ptbxl100", target="cpsc2021", labels=_AF, input="single-lead 5 s",
    description="zero-shot transfer: AF vs rest from lead I of PTB-XL (folds 1-8 / 9) tested on every 10-s "
                f"window of the 18 CPSC 2021 records (lead I); input single-lead 5 s; {_METRICS}",
))

register_task(TransferTask(
    name="cinc2017-to-ptbxl-af", dataset="cinc2017", target="ptbxl100", target_folds=(10,), labels=_AF,
    input="single-lead 5 s",
    description="zero-shot transfer: AF vs rest from CinC 2017 (AliveCor; folds 1-8 / 9) tested on lead I of "
                f"PTB-XL fold 10 (328 records); input single-lead 5 s; {_METRICS}",
))

# ---------------------------------------------------------------------------------------------------- sources
# 12-lead sources pooled (each keeps its folds), and each left out in turn.  LUDB's fold 10 holds 16 records
# (too few positives to score any label), so left out it is tested on all 160 of its records.
_MULTI = "+".join(TWELVE_LEAD_SOURCES)

register_task(MultiSourceTask(
    name="multi17", dataset=_MULTI, sources=TWELVE_LEAD_SOURCES, labels=LABELS, input="12-lead 5 s",
    description="The 17 labels on every 12-lead source pooled (PTB-XL 100 Hz, LUDB; labels a source does not "
                "define are unknown, masked in the loss); each source's folds 1-8 / 9 / 10",
))

for _src in TWELVE_LEAD_SOURCES:
    register_task(MultiSourceTask(
        name=f"loso17-{_src}", dataset=_MULTI, sources=TWELVE_LEAD_SOURCES, held_out=_src, labels=LABELS,
        input="12-lead 5 s", test_folds=loso_test_folds(_src),
        description=f"leave-one-source-out: the 17 labels trained on the 12-lead sources but {_src} (their folds "
                    f"1-8 / 9), tested on {_src} ({'fold 10' if loso_test_folds(_src) else 'all records'}), never seen "
                    "in training or validation",
    ))
