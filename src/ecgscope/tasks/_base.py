"""A task is data: which dataset, which labels, which input, which split.

Adding a task is one declaration::

    register_task(Task(name="ptbxl-rhythm", dataset="ptbxl100", labels=(...), input="12-lead 5 s"))

The task's *input* fixes the leads and the window length; the model's pretrained config fixes
the sampling rate, filters and normalisation (:meth:`Task.contract_for` merges the two).  The
split is by the dataset's ``fold`` column (patients never cross folds).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecgscope.datasets import ECGDataset, open_dataset, split_indices
from ecgscope.datasets.splits import DEFAULT_SPLIT
from ecgscope.leads import STANDARD_LEADS
from ecgscope.signal.contract import InputContract


@dataclass(frozen=True)
class InputSpec:
    """Leads and window of a task's input (``single_lead`` set = one lead, e.g. a wearable's lead I)."""

    name: str
    window_s: float
    leads: tuple[str, ...] = STANDARD_LEADS
    single_lead: str | None = None


INPUTS: dict[str, InputSpec] = {
    s.name: s
    for s in (
        InputSpec("12-lead 10 s", 10.0),
        InputSpec("12-lead 5 s", 5.0),
        InputSpec("12-lead 2.5 s", 2.5),
        InputSpec("single-lead 10 s", 10.0, single_lead="I"),
        InputSpec("single-lead 5 s", 5.0, single_lead="I"),
    )
}


def input_spec(name: str) -> InputSpec:
    if name not in INPUTS:
        raise KeyError(f"unknown task input {name!r}; valid inputs: {', '.join(INPUTS)}")
    return INPUTS[name]


@dataclass(frozen=True)
class Task:
    """One supervised task.

    Attributes
    ----------
    name : str
    dataset : str
        A name for :func:`ecgscope.datasets.open_dataset`.
    labels : tuple of str
        Output names, in order.
    input : str
        One of :data:`INPUTS` (``"12-lead 5 s"``, ``"single-lead 5 s"``...).
    targets : callable, optional
        ``targets(dataset) -> (n, len(labels))`` float32 with NaN = not assessed.  Default: the
        dataset's label columns named ``labels``.
    split : dict
        Folds of each part; PTB-XL's recommendation (1-8 / 9 / 10) by default.
    """

    name: str
    dataset: str
    labels: tuple[str, ...]
    input: str
    description: str = ""
    targets: Callable[[ECGDataset], np.ndarray] | None = None
    split: dict[str, tuple[int, ...]] = field(default_factory=lambda: dict(DEFAULT_SPLIT))
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        input_spec(self.input)  # fail at declaration, not at training time

    @property
    def spec(self) -> InputSpec:
        return input_spec(self.input)

    @property
    def single_lead(self) -> bool:
        return self.spec.single_lead is not None

    def open(self, data_dir: str | os.PathLike | None = None) -> ECGDataset:
        return open_dataset(self.dataset, data_dir, **self.dataset_kwargs)

    def target_matrix(self, dataset: ECGDataset) -> np.ndarray:
        """(n, len(labels)) float32 targets of every dataset row (NaN = not assessed)."""
        if self.targets is not None:
            y = np.asarray(self.targets(dataset), dtype=np.float32)
        else:
            missing = [n for n in self.labels if n not in dataset.labels.columns]
            if missing:
                raise KeyError(f"task {self.name}: dataset {dataset.name} has no label columns {missing}")
            y = dataset.labels[list(self.labels)].to_numpy(np.float32)
        if y.shape != (len(dataset), len(self.labels)):
            raise ValueError(f"task {self.name}: targets are {y.shape}, expected {(len(dataset), len(self.labels))}")
        return y

    def splits(self, dataset: ECGDataset) -> dict[str, np.ndarray]:
        """Row positions of train / val / test, checked for patient leaks."""
        return split_indices(dataset.index, self.split)

    def contract_for(self, model_contract: InputContract, *, fixed_window: bool = False,
                     lead_alone: bool = False, lead: str | None = None) -> InputContract:
        """The model's contract with this task's leads and window.

        ``fixed_window`` keeps the model's window (architectures with a fixed input length);
        ``lead_alone`` feeds a single lead as one channel instead of duplicating it into every
        channel (for models that accept a subset of leads).  ``lead`` overrides the task's lead.
        """
        spec = self.spec
        window = model_contract.window_samples if fixed_window else int(round(spec.window_s * model_contract.fs))
        single = lead or spec.single_lead
        if single:
            return model_contract.replace(window_samples=window, single_lead=single,
                                          duplicate_single_lead=not lead_alone, leads=STANDARD_LEADS)
        return model_contract.replace(window_samples=window, leads=spec.leads, single_lead=None)


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; valid tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]


def list_tasks() -> list[str]:
    return sorted(TASKS)
