"""Datasets preprocessed once for a model contract and cached on disk.

Training reads the same records every epoch; decoding FLAC WFDB and resampling each time would
dominate a CPU run.  :func:`prepare` runs :meth:`Preprocessor.signal` (everything before windowing)
over the rows of a dataset once, stores the result under the cache directory keyed by the dataset,
its rows and the contract, and memory-maps it afterwards.  Windows (or random crops) are cut at
read time, so one cache serves both fixed windows and crop augmentation.

Rows whose record cannot satisfy the contract (too short, missing leads...) are skipped and listed
with their reason in :attr:`PreparedSet.skipped`, never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field

import numpy as np

from ecgscope.config import cache_dir
from ecgscope.datasets.base import ECGDataset
from ecgscope.errors import ECGScopeError
from ecgscope.signal.contract import InputContract, Preprocessor
from ecgscope.signal.windows import make_windows

_CACHE_VERSION = 1


@dataclass
class PreparedSet:
    """Preprocessed signals of some dataset rows, concatenated along time."""

    signals: np.ndarray  # (stored_channels, total_samples) float32, maybe a memmap
    offsets: np.ndarray  # (n + 1,) sample offsets of each row's signal
    rows: np.ndarray  # (n,) dataset row positions
    labels: np.ndarray  # (n, 17) float32 with NaN
    patient_ids: np.ndarray  # (n,) str
    contract: InputContract
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def duplicated(self) -> bool:
        """Stored as one channel that the contract copies into every channel."""
        return self.signals.shape[0] == 1 and self.contract.n_channels > 1

    def signal(self, k: int) -> np.ndarray:
        """(n_channels, n_samples) normalised signal of item ``k``."""
        x = np.asarray(self.signals[:, self.offsets[k] : self.offsets[k + 1]])
        return np.repeat(x, self.contract.n_channels, axis=0) if self.duplicated else x

    def length(self, k: int) -> int:
        return int(self.offsets[k + 1] - self.offsets[k])

    def windows(self, k: int) -> np.ndarray:
        """(n_windows, n_channels, window_samples) model windows of item ``k`` (contract's windowing)."""
        c = self.contract
        return make_windows(self.signal(k), c.window_samples, c.window_stride, c.pad_short, fs=c.fs)[0]

    def all_windows(self) -> tuple[np.ndarray, np.ndarray]:
        """Every window of every item: ``(windows, owner)`` with ``owner[i]`` the item of window ``i``."""
        wins, owner = [], []
        for k in range(len(self)):
            w = self.windows(k)
            wins.append(w)
            owner.append(np.full(len(w), k))
        return np.concatenate(wins), np.concatenate(owner)

    def crop(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """A random window-length crop of item ``k`` (zero-padded when the item is shorter)."""
        n, size = self.length(k), self.contract.window_samples
        start = int(rng.integers(0, n - size + 1)) if n > size else 0
        x = self.signal(k)[:, start : start + size]
        if x.shape[1] < size:
            x = np.pad(x, ((0, 0), (0, size - x.shape[1])))
        return x


def _key(dataset: ECGDataset, rows: np.ndarray, contract: InputContract) -> str:
    params = {k: v for k, v in vars(dataset).items() if isinstance(v, (int, float, str)) and not k.startswith("_")}
    blob = json.dumps(
        {"v": _CACHE_VERSION, "dataset": dataset.name, "root": str(dataset.root), "params": params,
         "contract": contract.to_dict(), "rows": hashlib.sha1(np.asarray(rows, np.int64).tobytes()).hexdigest()},
        sort_keys=True, default=str,
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def prepare(
    dataset: ECGDataset,
    contract: InputContract,
    rows: np.ndarray | None = None,
    *,
    allow_single_lead: bool = False,
    use_cache: bool = True,
    progress: bool = False,
) -> PreparedSet:
    """Preprocess ``rows`` of ``dataset`` (default: all) for ``contract``; cached on disk.

    Examples
    --------
    >>> from ecgscope.datasets import open_dataset
    >>> ds = open_dataset("ptbxl")                                                   # doctest: +SKIP
    >>> ps = prepare(ds, InputContract(fs=100, window_samples=500))                  # doctest: +SKIP
    >>> ps.windows(0).shape                                                          # doctest: +SKIP
    (2, 12, 500)
    """
    rows = np.arange(len(dataset)) if rows is None else np.asarray(rows, dtype=np.int64)
    folder = cache_dir() / "prepared" / _key(dataset, rows, contract)
    if use_cache and (folder / "meta.json").exists():
        meta = json.loads((folder / "meta.json").read_text())
        kept = np.asarray(meta["rows"], dtype=np.int64)
        return PreparedSet(
            signals=np.load(folder / "signals.npy", mmap_mode="r"),
            offsets=np.asarray(meta["offsets"], dtype=np.int64),
            rows=kept,
            labels=dataset.labels.to_numpy(np.float32)[kept],
            patient_ids=dataset.index["patient_id"].to_numpy(str)[kept],
            contract=contract,
            skipped=[tuple(s) for s in meta["skipped"]],
        )
    pre = Preprocessor(contract, allow_single_lead=allow_single_lead)
    # a duplicated single lead is stored once and copied into the channels at read time
    store_one = bool(contract.single_lead and contract.duplicate_single_lead)
    chunks, kept, skipped, offsets = [], [], [], [0]
    iterator = rows
    if progress:
        from rich.progress import track

        iterator = track(rows, description=f"preparing {dataset.name}")
    for r in iterator:
        try:
            x, _, _ = pre.signal(dataset.load(int(r)))
        except ECGScopeError as err:
            skipped.append((int(r), str(err)))
            continue
        chunks.append(np.asarray(x[:1] if store_one else x, dtype=np.float32))
        kept.append(int(r))
        offsets.append(offsets[-1] + x.shape[1])
    width = 1 if store_one else contract.n_channels
    signals = np.concatenate(chunks, axis=1) if chunks else np.zeros((width, 0), dtype=np.float32)
    kept_arr = np.asarray(kept, dtype=np.int64)
    if use_cache:
        # one staging folder per process: two processes preparing the same cache must not share it
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / "signals.npy", signals)
        (tmp / "meta.json").write_text(json.dumps({"rows": kept, "offsets": offsets, "skipped": skipped}))
        try:
            if not (folder / "meta.json").exists():  # another process may have finished the same cache first
                shutil.rmtree(folder, ignore_errors=True)
                tmp.rename(folder)  # atomic: a crash leaves no half-written cache
        except OSError:  # lost the race to an identical cache: use the winner's
            if not (folder / "meta.json").exists():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        signals = np.load(folder / "signals.npy", mmap_mode="r")
    return PreparedSet(
        signals=signals,
        offsets=np.asarray(offsets, dtype=np.int64),
        rows=kept_arr,
        labels=dataset.labels.to_numpy(np.float32)[kept_arr] if len(kept_arr) else np.zeros((0, 17), np.float32),
        patient_ids=dataset.index["patient_id"].to_numpy(str)[kept_arr] if len(kept_arr) else np.zeros(0, str),
        contract=contract,
        skipped=skipped,
    )
