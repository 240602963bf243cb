"""Data for training: preprocessed once per contract (cached), random crops for training, every
window of every record for evaluation."""

from __future__ import annotations

import os
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ecgscope.datasets import ECGDataset, split_indices
from ecgscope.datasets.prepared import PreparedSet, prepare
from ecgscope.signal.contract import InputContract
from ecgscope.tasks import Task
from ecgscope.train.augment import DeviceAugment


class CropDataset(Dataset):
    """One random window-length crop per record and epoch (augmentation), with its targets.

    Crops are drawn from a generator seeded by (seed, epoch, item), so a run is reproducible and
    each epoch sees other crops.  ``augment`` (a :class:`~ecgscope.train.augment.DeviceAugment`) then
    makes the crop look recorded by another device, from the same generator.
    """

    def __init__(self, prepared: PreparedSet, targets: np.ndarray, seed: int = 0,
                 augment: DeviceAugment | None = None):
        self.prepared = prepared
        self.targets = np.asarray(targets, dtype=np.float32)
        self.seed = seed
        self.epoch = 0
        self.augment = augment if augment is not None and augment.active else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.prepared)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        x = self.prepared.crop(i, rng)  # (C, T)
        if self.augment is not None:
            x = self.augment(x, self.prepared.contract.fs, rng)
        return torch.tensor(x, dtype=torch.float32), torch.tensor(self.targets[i])  # copies: the cache is read-only


class WindowDataset(Dataset):
    """Every contract window of every record: (window, owner) where owner is the record's position."""

    def __init__(self, prepared: PreparedSet):
        self.windows, self.owner = prepared.all_windows()

    def __len__(self) -> int:
        return len(self.owner)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.tensor(self.windows[i], dtype=torch.float32), int(self.owner[i])


@dataclass
class SplitData:
    prepared: PreparedSet
    targets: np.ndarray  # (n, n_labels) with NaN


def limit_rows(rows: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """A reproducible random subset of ``rows`` (for smoke runs and tests), kept in order."""
    if limit is None or limit >= len(rows):
        return rows
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=limit, replace=False))


class TaskDataModule(L.LightningDataModule):
    """Train / val / test of a task, prepared for ``contract``.

    ``prepare_data`` (rank 0 only under DDP) fills the on-disk cache; ``setup`` then reads it on
    every rank.  Validation and test run on the full split on every rank (small here), so each
    rank computes the same metric without gathering.
    """

    def __init__(self, task: Task, contract: InputContract, data_dir: str | os.PathLike | None = None,
                 batch_size: int = 64, seed: int = 0, limit: int | None = None, num_workers: int = 0,
                 eval_batch_size: int | None = None, train_rows: np.ndarray | None = None,
                 augment: DeviceAugment | None = None):
        super().__init__()
        self.augment = augment
        self.task = task
        self.contract = contract
        self.data_dir = data_dir
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or 2 * batch_size
        self.seed = seed
        self.limit = limit
        self.num_workers = num_workers
        self.train_rows = None if train_rows is None else np.sort(np.asarray(train_rows, dtype=np.int64))
        self.parts: dict[str, SplitData] = {}
        self._dataset: ECGDataset | None = None

    @property
    def dataset(self) -> ECGDataset:
        if self._dataset is None:
            self._dataset = self.task.open(self.data_dir)
        return self._dataset

    def rows(self) -> dict[str, np.ndarray]:
        parts = self.task.splits(self.dataset)
        if self.train_rows is not None:
            # a subset of the training split (label-fraction benchmarks); never rows of another part
            outside = np.setdiff1d(self.train_rows, parts["train"])
            if outside.size:
                raise ValueError(f"train_rows has {outside.size} row(s) outside task {self.task.name}'s "
                                 f"training split, e.g. {outside[:5].tolist()}")
            parts = {**parts, "train": self.train_rows}
        # val/test keep at least a quarter of the limit so their metric is not a coin toss
        small = None if self.limit is None else max(self.limit // 4, 16)
        return {name: limit_rows(r, self.limit if name == "train" else small, self.seed + k)
                for k, (name, r) in enumerate(parts.items())}

    def prepare_data(self) -> None:
        for rows in self.rows().values():
            prepare(self.dataset, self.contract, rows)

    def setup(self, stage: str | None = None) -> None:
        if self.parts:
            return
        y = self.task.target_matrix(self.dataset)
        for name, rows in self.rows().items():
            ps = prepare(self.dataset, self.contract, rows)
            self.parts[name] = SplitData(ps, y[ps.rows])
        self.train_set = CropDataset(self.parts["train"].prepared, self.parts["train"].targets, self.seed,
                                     self.augment)

    def sample_windows(self, n: int = 256) -> np.ndarray:
        """Up to ``n`` training windows (B, C, T), e.g. to fit data-dependent model state."""
        self.setup()
        rng = np.random.default_rng(self.seed)
        ps = self.parts["train"].prepared
        idx = rng.choice(len(ps), size=min(n, len(ps)), replace=False)
        return np.stack([ps.crop(int(i), rng) for i in idx])

    def train_dataloader(self) -> DataLoader:
        sampler = None
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            sampler = DistributedSampler(self.train_set, shuffle=True, seed=self.seed)
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=sampler is None, sampler=sampler,
                          num_workers=self.num_workers, drop_last=len(self.train_set) > self.batch_size,
                          generator=torch.Generator().manual_seed(self.seed))

    def _eval_loader(self, part: str) -> DataLoader:
        return DataLoader(WindowDataset(self.parts[part].prepared), batch_size=self.eval_batch_size, shuffle=False,
                          num_workers=self.num_workers)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")


class PairDataset(Dataset):
    """Two segments of the same record per item (contrastive positives; also the masked objective's input).

    Unlabeled: targets are never read.
    """

    def __init__(self, prepared: PreparedSet, seed: int = 0):
        self.prepared = prepared
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.prepared)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        size, n = self.prepared.contract.window_samples, self.prepared.length(i)
        if n >= 2 * size:
            # CMSC: non-overlapping segments of the record, in random order
            a0 = int(rng.integers(0, n - 2 * size + 1))
            b0 = int(rng.integers(a0 + size, n - size + 1))
            x = self.prepared.signal(i)
            a, b = x[:, a0 : a0 + size], x[:, b0 : b0 + size]
            if rng.random() < 0.5:
                a, b = b, a
        else:  # too short for two segments: two random (overlapping) crops
            a, b = self.prepared.crop(i, rng), self.prepared.crop(i, rng)
        return torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)


# the downstream split's train/val folds: fold 10 (everyone's test fold) is never seen, not even unlabeled
PRETRAIN_SPLIT = {"train": tuple(range(1, 9)), "val": (9,)}


class UnlabeledDataModule(L.LightningDataModule):
    """Records of any dataset (or folder) for self-supervised pretraining; labels are never read."""

    def __init__(self, dataset: ECGDataset, contract: InputContract, batch_size: int = 64, seed: int = 0,
                 limit: int | None = None, num_workers: int = 0, allow_single_lead: bool = False):
        super().__init__()
        self.dataset = dataset
        self.contract = contract
        self.batch_size = batch_size
        self.seed = seed
        self.limit = limit
        self.num_workers = num_workers
        self.allow_single_lead = allow_single_lead
        self.parts: dict[str, PreparedSet] = {}

    def rows(self) -> dict[str, np.ndarray]:
        parts = split_indices(self.dataset.index, PRETRAIN_SPLIT)
        small = None if self.limit is None else max(self.limit // 8, 8)
        return {name: limit_rows(r, self.limit if name == "train" else small, self.seed + k)
                for k, (name, r) in enumerate(parts.items())}

    def prepare_data(self) -> None:
        for rows in self.rows().values():
            prepare(self.dataset, self.contract, rows, allow_single_lead=self.allow_single_lead)

    def setup(self, stage: str | None = None) -> None:
        if self.parts:
            return
        for name, rows in self.rows().items():
            self.parts[name] = prepare(self.dataset, self.contract, rows, allow_single_lead=self.allow_single_lead)
        self.train_set = PairDataset(self.parts["train"], self.seed)
        self.val_set = PairDataset(self.parts["val"], self.seed + 1)

    def sample_windows(self, n: int = 256) -> np.ndarray:
        self.setup()
        rng = np.random.default_rng(self.seed)
        ps = self.parts["train"]
        idx = rng.choice(len(ps), size=min(n, len(ps)), replace=False)
        return np.stack([ps.crop(int(i), rng) for i in idx])

    def train_dataloader(self) -> DataLoader:
        sampler = None
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            sampler = DistributedSampler(self.train_set, shuffle=True, seed=self.seed)
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=sampler is None, sampler=sampler,
                          num_workers=self.num_workers, drop_last=len(self.train_set) > self.batch_size,
                          generator=torch.Generator().manual_seed(self.seed))

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers)
