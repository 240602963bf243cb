"""Calibration of recording-level probabilities, per-label thresholds, and plausibility rules.

All estimators follow scikit-learn's shape: ``fit(probs, y)`` on validation data, ``predict_proba``;
learned state ends in ``_``; ``to_dict``/``from_dict`` give the JSON that ships with a model.

>>> from ecgscope.calibrate import make_calibrator
>>> cal = make_calibrator("temperature-per-label")
"""

from __future__ import annotations

from typing import Any

from ecgscope.calibrate._base import Calibrator
from ecgscope.calibrate.isotonic import IsotonicCalibration
from ecgscope.calibrate.platt import PlattScaling
from ecgscope.calibrate.plausibility import CLINICAL_RULES, PlausibilityOutcome, PlausibilityRules, Rule
from ecgscope.calibrate.temperature import TemperatureScaling
from ecgscope.calibrate.thresholds import THRESHOLD_STRATEGIES, ThresholdSelector

CALIBRATION_METHODS = ("temperature", "temperature-per-label", "platt", "isotonic")


def make_calibrator(method: str) -> Calibrator:
    """A fresh calibrator by name (one of :data:`CALIBRATION_METHODS`)."""
    if method == "temperature":
        return TemperatureScaling(per_label=False)
    if method == "temperature-per-label":
        return TemperatureScaling(per_label=True)
    if method == "platt":
        return PlattScaling()
    if method == "isotonic":
        return IsotonicCalibration()
    raise ValueError(f"unknown calibration method {method!r}; valid methods: {', '.join(CALIBRATION_METHODS)}")


def calibrator_from_dict(d: dict[str, Any]) -> Calibrator:
    """Rebuild a fitted calibrator from :meth:`Calibrator.to_dict` output."""
    kinds = {"temperature": TemperatureScaling, "platt": PlattScaling, "isotonic": IsotonicCalibration}
    if d.get("method") not in kinds:
        raise ValueError(f"unknown calibrator {d.get('method')!r}; valid: {', '.join(kinds)}")
    return kinds[d["method"]].from_dict(d)


__all__ = [
    "CALIBRATION_METHODS",
    "CLINICAL_RULES",
    "THRESHOLD_STRATEGIES",
    "Calibrator",
    "IsotonicCalibration",
    "PlattScaling",
    "PlausibilityOutcome",
    "PlausibilityRules",
    "Rule",
    "TemperatureScaling",
    "ThresholdSelector",
    "calibrator_from_dict",
    "make_calibrator",
]
