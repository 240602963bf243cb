"""Label maps as data: rule files that turn a dataset's own codes into the 17 labels."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from ecgscope.labels import LABELS
from ecgscope.leads import parse_lead_list

_CONDITIONS = {"any", "all", "groups", "diagnostic_class", "min_leads", "column_matches"}


@cache
def load_label_map(name: str) -> dict[str, Any]:
    """The label map ``datasets/labelmaps/<name>.json`` shipped with the package."""
    try:
        text = resources.files("ecgscope.datasets.labelmaps").joinpath(f"{name}.json").read_text()
    except FileNotFoundError:
        raise KeyError(f"no label map named {name!r}") from None
    spec = json.loads(text)
    labels = spec.get("labels")
    if isinstance(labels, dict):
        unknown = set(labels) - set(LABELS)
        if unknown:
            raise ValueError(f"label map {name} names unknown labels {sorted(unknown)}")
    return spec


class CodeRules:
    """Evaluates a code-based rule map (``ptbxl.json``, ``challenge.json``).

    Parameters
    ----------
    spec : dict
        ``{"labels": {label: [rule, ...]}}``; a label is positive when any rule holds, a rule holds
        when all of its conditions hold (see the map's ``description``).
    code_classes : dict, optional
        Code -> diagnostic class, for ``diagnostic_class`` conditions.
    """

    def __init__(self, spec: dict[str, Any], code_classes: dict[str, str] | None = None):
        self.rules: dict[str, list[dict[str, Any]]] = spec["labels"]
        self.code_classes = code_classes or {}
        for label, rules in self.rules.items():
            for rule in rules:
                bad = set(rule) - _CONDITIONS
                if bad:
                    raise ValueError(f"rule for {label!r} has unknown conditions {sorted(bad)}")

    def _holds(self, rule: dict[str, Any], codes: set[str], columns: dict[str, Any]) -> bool:
        if "any" in rule and not codes & set(rule["any"]):
            return False
        if "all" in rule and not set(rule["all"]) <= codes:
            return False
        if "groups" in rule and not all(codes & set(g) for g in rule["groups"]):
            return False
        if "diagnostic_class" in rule:
            wanted = set(rule["diagnostic_class"])
            if not any(self.code_classes.get(c) in wanted for c in codes):
                return False
        for col, n in rule.get("min_leads", {}).items():
            val = columns.get(col)
            if not isinstance(val, str) or len(parse_lead_list(val)) < n:
                return False
        for col, pattern in rule.get("column_matches", {}).items():
            val = columns.get(col)
            if not isinstance(val, str) or not re.search(pattern, val):
                return False
        return bool(rule)

    def __call__(self, codes: set[str], columns: dict[str, Any] | None = None) -> np.ndarray:
        """(17,) float32 0/1 vector for one record."""
        columns = columns or {}
        out = np.zeros(len(LABELS), dtype=np.float32)
        for i, label in enumerate(LABELS):
            out[i] = float(any(self._holds(r, codes, columns) for r in self.rules.get(label, [])))
        return out
