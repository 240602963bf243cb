"""Every labelled source as one dataset, with what each source can say about each label, and
leave-one-source-out (LOSO) folds.

A label a source does not define is *unknown* (NaN) for all of that source's rows, never negative:
the masked loss (:func:`ecgscope.train.losses.masked_bce`) gives it no gradient and the metrics skip
it.  :meth:`MultiSourceDataset.label_mask` is that (source x label) table.

Folds.  Every source keeps its own subject-aware folds (PTB-XL's ``strat_fold``, patient-grouped
folds elsewhere), and patient ids are prefixed with the source, so the ordinary 1-8 / 9 / 10 split
trains on folds 1-8 of every source, validates on their folds 9 and tests on their folds 10.  With
``held_out=S`` the folds are re-dealt for LOSO: S's fold 10 is the test fold and S's other folds are
used by nothing (fold 0); the other sources keep folds 1-9 for training and validation and their fold
10 is unused.  The in-source figure for S is the pooled model on the same S fold-10 rows, so in-source
and out-of-source AUROC are measured on exactly the same records.

>>> from ecgscope.datasets.multisource import MultiSourceDataset      # doctest: +SKIP
>>> ds = MultiSourceDataset(["ptbxl100", "ludb"], held_out="ludb")     # doctest: +SKIP
>>> ds.label_mask().loc["ludb", "Infarction"]                          # doctest: +SKIP
False
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecgscope.datasets.base import ECGDataset
from ecgscope.record import Record

UNUSED_FOLD = 0
TEST_FOLD = 10
# every labelled source in the data folder; CPSC 2019 has R peaks only, no diagnostic label
LABELLED_SOURCES = ("ptbxl100", "ludb", "mitdb", "cinc2017", "cpsc2021")
TWELVE_LEAD_SOURCES = ("ptbxl100", "ludb")
# sources whose fold 10 is too small to score (LUDB: 16 records; CPSC 2021 here: 18 records of a few patients,
# fold 10 empty): left out, they are tested on all of their records
WHOLE_TEST_SOURCES = ("ludb", "cpsc2021")
MIN_TEST_POSITIVES = 10  # a label is scored on a source only with this many positives in its test rows


def loso_test_folds(source: str) -> tuple[int, ...] | None:
    """The folds of ``source`` that test it when it is left out (``None``: all of its rows)."""
    return None if source in WHOLE_TEST_SOURCES else (TEST_FOLD,)


class MultiSourceDataset(ECGDataset):
    """The rows of several datasets stacked, each row tagged with its ``source_dataset``.

    Parameters
    ----------
    sources : sequence of ECGDataset
        Opened datasets (:func:`open_multisource` opens them by name).
    held_out : str, optional
        A source's name: re-deal the folds for leave-one-source-out (module docstring).
    test_folds : tuple of int, optional
        The held-out source's folds that form the test split (default: its fold 10; ``None``: all of
        its rows, for a source too small to spare folds).
    """

    def __init__(self, sources: Sequence[ECGDataset], held_out: str | None = None,
                 test_folds: tuple[int, ...] | None = (TEST_FOLD,)):
        # no locate(): the rows live in each source's own folder
        if not sources:
            raise ValueError("a multi-source dataset needs at least one source")
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ValueError(f"a source appears twice: {names}")
        if held_out is not None and held_out not in names:
            raise ValueError(f"held-out source {held_out!r} is not one of the sources {names}")
        self.sources = list(sources)
        self.held_out = held_out
        self.test_folds = tuple(test_folds) if test_folds else None
        self.root = sources[0].root
        self.name = "+".join(names) + (f"-without-{held_out}" if held_out else "")
        # part of the preprocessing cache key (prepared._key reads the string attributes)
        self.test_folds_key = ",".join(map(str, self.test_folds)) if self.test_folds else "all"
        self.description = ("sources " + ", ".join(names)
                            + (f"; {held_out} held out (its test fold only)" if held_out else ""))
        self._offsets = np.cumsum([0] + [len(s) for s in sources])

    @property
    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]

    def _build_index(self) -> tuple[pd.DataFrame, np.ndarray]:
        frames = []
        for ds in self.sources:
            frame = ds.index.copy()  # a source's own columns (cinc_class, scp_codes, ...) stay, NaN elsewhere
            frame["patient_id"] = ds.name + ":" + frame["patient_id"].astype(str)
            frame["source_dataset"] = ds.name  # record ids stay the source's: (source_dataset, record_id) is unique
            frame["source_fold"] = frame["fold"]
            if self.held_out is not None:
                fold = frame["fold"].to_numpy()
                if ds.name == self.held_out:
                    test = np.isin(fold, self.test_folds) if self.test_folds else np.ones(len(fold), bool)
                    frame["fold"] = np.where(test, TEST_FOLD, UNUSED_FOLD)
                else:
                    frame["fold"] = np.where(np.isin(fold, range(1, TEST_FOLD)), fold, UNUSED_FOLD)
            frames.append(frame)
        index = pd.concat(frames, ignore_index=True)
        labels = np.concatenate([ds.labels.to_numpy(np.float32) for ds in self.sources])
        return index, labels

    def load(self, i: int) -> Record:
        k = int(np.searchsorted(self._offsets, i, side="right") - 1)
        rec = self.sources[k].load(i - int(self._offsets[k]))
        return rec.replace(patient_id=self.index.iloc[i]["patient_id"])

    # ------------------------------------------------------------------ what each source can say
    def label_mask(self) -> pd.DataFrame:
        """(source x label) bool: True where the source defines the label (any of its rows is 0 or 1)."""
        lab = self.labels.notna()
        lab["source"] = self.index["source_dataset"].to_numpy()
        return lab.groupby("source", sort=False).any().reindex(self.source_names)

    def positives(self, folds: Sequence[int] | None = None) -> pd.DataFrame:
        """(source x label) positive counts (of rows in ``folds`` when given; by the source's own folds)."""
        keep = np.ones(len(self), bool) if folds is None else self.index["source_fold"].isin(folds).to_numpy()
        lab = (self.labels[keep] == 1).astype(int)
        lab["source"] = self.index["source_dataset"].to_numpy()[keep]
        return lab.groupby("source", sort=False).sum().reindex(self.source_names, fill_value=0)

    def scorable_labels(self, source: str, min_positives: int = MIN_TEST_POSITIVES) -> list[str]:
        """Labels ``source`` defines with at least ``min_positives`` positives among its test rows."""
        folds = self.test_folds or sorted(self.index["source_fold"].unique())
        counts = self.positives(folds).loc[source]
        mask = self.label_mask().loc[source]
        return [lab for lab in self.labels.columns if mask[lab] and counts[lab] >= min_positives]


def open_multisource(names: Sequence[str] = LABELLED_SOURCES, root: str | os.PathLike | None = None,
                     held_out: str | None = None, test_folds: tuple[int, ...] | None = (TEST_FOLD,)
                     ) -> MultiSourceDataset:
    """Open the named datasets under ``root`` as one :class:`MultiSourceDataset`."""
    from ecgscope.datasets import open_dataset

    return MultiSourceDataset([open_dataset(n, root) for n in names], held_out=held_out, test_folds=test_folds)
