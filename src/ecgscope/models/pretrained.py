"""What a model expects and where its weights came from (timm's ``pretrained_cfg``, for ECGs).

The :class:`PretrainedCfg` travels with every model and every checkpoint bundle.  Its
``input_contract`` is the *only* description of the model's preprocessing: callers build a
:class:`~ecgscope.signal.contract.Preprocessor` from it and never re-implement resampling, filters
or normalisation for a model by hand.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ecgscope.labels import LABELS
from ecgscope.signal.contract import InputContract, Preprocessor


@dataclass(frozen=True)
class PretrainedCfg:
    """Input contract, label names and provenance of a model's weights.

    Attributes
    ----------
    input_contract : InputContract
        fs, window, leads, normalisation (and filters) the weights were trained with.
    labels : tuple of str
        Output names in head order (the 17 ECG-FM labels unless a task says otherwise).
    fixed_window : bool
        The architecture only takes ``input_contract.window_samples`` samples (ST-MEM's learned
        positional table); tasks then keep the model's window instead of imposing theirs.
    source : str
        Where the weights came from: ``"random init"``, a checkpoint path, a published model name.
    url, license, paper : str
        Provenance of published weights (empty for weights trained here).
    task : str or None
        The ecgscope task the weights were trained on, if any.
    input : {"12-lead", "single-lead"}
    """

    input_contract: InputContract = field(default_factory=InputContract)
    labels: tuple[str, ...] = LABELS
    fixed_window: bool = False
    source: str = "random init"
    url: str = ""
    license: str = ""
    paper: str = ""
    task: str | None = None
    input: str = "12-lead"
    notes: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def preprocessor(self, allow_single_lead: bool = False) -> Preprocessor:
        """The preprocessing pipeline this model needs, built from its contract."""
        return Preprocessor(self.input_contract, allow_single_lead=allow_single_lead)

    def replace(self, **changes: Any) -> PretrainedCfg:
        if "labels" in changes:
            changes["labels"] = tuple(changes["labels"])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["input_contract"] = self.input_contract.to_dict()
        d["labels"] = list(self.labels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PretrainedCfg:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown pretrained-config fields {sorted(unknown)}")
        kw = dict(d)
        if isinstance(kw.get("input_contract"), dict):
            kw["input_contract"] = InputContract.from_dict(kw["input_contract"])
        if "labels" in kw:
            kw["labels"] = tuple(kw["labels"])
        return cls(**kw)
