"""Shipped models: a directory with the model, its calibration, its card, and identity.

Layout of a model package (``src/ecgscope/inference/pretrained/<name>/`` for the models ecgscope ships,
or any directory a user builds with :func:`build_package`)::

    model.pt          ecgscope model bundle (``ecgscope.models.save_bundle``): architecture, weights, contract
                      (a record-level rhythm model, ``"model_kind": "rhythm-features"`` in meta.json, has
                      ``model.json`` instead: :mod:`ecgscope.inference.rhythm_model`)
    calibration.json  calibrator, per-label thresholds, plausibility rules, validation metrics
    meta.json         name, version, input ("12-lead" | "single-lead"), task, labels, training/evaluation facts
    card.md           the model card: data, splits, metrics with CIs, intended use, limits
    record_head.json  optional: whole-record measurements blended into the logits (ecgscope.inference.record_head)
    evidence.json     optional: per label, the network, record head and rhythm statistics combined into one
                      probability fitted across sources (ecgscope.inference.evidence)
    model.onnx        the same network exported to ONNX (optional; needed for backend="onnx")

The package's ``sha256`` is the SHA-256 of the model file (``model.pt`` or ``model.json``) followed by
``calibration.json`` and, when present, ``record_head.json`` and ``evidence.json`` (the bytes that decide every output), and is
written into every result.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.calibrate import (
    CLINICAL_RULES,
    PlausibilityRules,
    ThresholdSelector,
    calibrator_from_dict,
    make_calibrator,
)
from ecgscope.calibrate._base import Calibrator
from ecgscope.errors import MissingInputError, RecordFormatError
from ecgscope.evaluate.calibration import calibration_summary
from ecgscope.labels import LABELS

PACKAGE_FILES = ("calibration.json", "meta.json", "card.md")  # plus the model file of its kind
MODEL_FILES = {"network": "model.pt", "rhythm-features": "model.json"}
RECORD_HEAD_FILE = "record_head.json"
EVIDENCE_FILE = "evidence.json"
PRETRAINED_ROOT = "ecgscope.inference.pretrained"


@dataclass
class ModelPackage:
    """A loaded model package (the network is loaded separately by the backend)."""

    path: Path
    meta: dict[str, Any]
    calibrator: Calibrator | None
    thresholds: np.ndarray
    rules: PlausibilityRules | None
    sha256: str
    card: str

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def version(self) -> str:
        return self.meta["version"]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.meta["labels"])

    @property
    def input_kind(self) -> str:
        return self.meta["input"]

    @property
    def model_kind(self) -> str:
        """``"network"`` (windows through a network) or ``"rhythm-features"`` (record-level statistics)."""
        return model_kind(self.meta)

    def info(self) -> dict[str, Any]:
        """What ``list_pretrained`` and the server's ``/models`` report."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256, "input": self.input_kind,
                "kind": self.model_kind,
                "labels": list(self.labels), "task": self.meta.get("task"), "metrics": self.meta.get("metrics", {}),
                "model_card": self.card}


def model_kind(meta: dict[str, Any]) -> str:
    kind = meta.get("model_kind", "network")
    if kind not in MODEL_FILES:
        raise RecordFormatError(f"unknown model_kind {kind!r}; valid: {', '.join(MODEL_FILES)}",
                                code="bad_model_package")
    return kind


def package_sha256(path: Path, model_file: str = "model.pt") -> str:
    h = hashlib.sha256()
    optional = tuple(f for f in (RECORD_HEAD_FILE, EVIDENCE_FILE) if (path / f).is_file())
    for name in (model_file, "calibration.json", *optional):
        with open(path / name, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def pretrained_dir() -> Path:
    """Where the packages shipped inside ecgscope live."""
    return Path(str(resources.files(PRETRAINED_ROOT)))


def list_package_names() -> list[str]:
    root = pretrained_dir()
    return sorted(p.name for p in root.iterdir() if (p / "meta.json").is_file())


def resolve_package(name_or_path: str | os.PathLike) -> Path:
    """A shipped package by name, or a package directory by path."""
    p = Path(name_or_path)
    if p.is_dir():
        return p
    shipped = pretrained_dir() / str(name_or_path)
    if (shipped / "meta.json").is_file():
        return shipped
    names = list_package_names()
    raise MissingInputError(
        f"no model package {str(name_or_path)!r}; shipped models: {', '.join(names) or 'none'}, "
        "or pass a package directory", source=str(name_or_path), code="model_not_found")


def load_package(name_or_path: str | os.PathLike) -> ModelPackage:
    path = resolve_package(name_or_path)
    missing = [f for f in PACKAGE_FILES if not (path / f).is_file()]
    if missing:
        raise RecordFormatError(f"model package lacks {missing}", source=str(path), code="bad_model_package")
    meta = json.loads((path / "meta.json").read_text())
    model_file = MODEL_FILES[model_kind(meta)]
    if not (path / model_file).is_file():
        raise RecordFormatError(f"model package lacks {model_file}", source=str(path), code="bad_model_package")
    cal = json.loads((path / "calibration.json").read_text())
    labels = tuple(meta["labels"])
    calibrator = calibrator_from_dict(cal["calibrator"]) if cal.get("calibrator") else None
    thresholds = np.asarray(cal["thresholds"]["thresholds"], dtype=np.float64)
    if thresholds.shape != (len(labels),):
        raise RecordFormatError("thresholds do not match the labels", source=str(path), code="bad_model_package")
    rules = PlausibilityRules.from_dict(cal["rules"]) if cal.get("rules") else None
    return ModelPackage(path, meta, calibrator, thresholds, rules, package_sha256(path, model_file),
                        (path / "card.md").read_text())


def fit_calibration(val_probs: np.ndarray, val_labels: np.ndarray, train_labels: np.ndarray,
                    labels: tuple[str, ...] = LABELS, method: str = "auto",
                    threshold_strategy: str = "f1", target_sensitivity: float = 0.9) -> dict[str, Any]:
    """Fit calibrator, thresholds and plausibility rules; returns the ``calibration.json`` content.

    ``method="auto"`` picks, among the calibration methods, the one with the lowest pooled ECE in a 2-fold
    cross-fit on the validation data (each half calibrated by a fit on the other), then refits it on all of it.
    Thresholds are chosen on the calibrated validation probabilities.  Rules are learned from the training
    labels (with the clinical constraints).
    """
    from ecgscope.calibrate import CALIBRATION_METHODS

    p, y = np.asarray(val_probs, np.float64), np.asarray(val_labels, np.float64)
    scores: dict[str, float] = {}
    if method == "auto":
        rng = np.random.default_rng(0)
        half = rng.permutation(len(p)) < len(p) // 2
        for m in CALIBRATION_METHODS:
            out = np.empty_like(p)
            out[half] = make_calibrator(m).fit(p[~half], y[~half]).predict_proba(p[half])
            out[~half] = make_calibrator(m).fit(p[half], y[half]).predict_proba(p[~half])
            scores[m] = calibration_summary(y, out)["ece"]
        method = min(scores, key=scores.get)
    calibrator = make_calibrator(method).fit(p, y)
    calibrated = calibrator.predict_proba(p)
    selector = ThresholdSelector(threshold_strategy, target_sensitivity).fit(calibrated, y)
    clinical = tuple(r for r in CLINICAL_RULES if r[1] in labels and r[2] in labels)
    rules = PlausibilityRules(labels=tuple(labels), clinical=clinical).fit(train_labels)
    return {
        "calibrator": calibrator.to_dict(),
        "selection": {"method": method, "cross_fit_ece": scores},
        "thresholds": selector.to_dict(),
        "rules": rules.to_dict(),
        "validation": {"before": calibration_summary(y, p), "after": calibration_summary(y, calibrated)},
    }


def build_package(out_dir: str | os.PathLike, *, bundle: str | os.PathLike, calibration: dict[str, Any],
                  meta: dict[str, Any], card: str, onnx: str | os.PathLike | None = None,
                  record_head: dict[str, Any] | None = None) -> Path:
    """Write a model package directory (atomically: built aside, then renamed into place).

    ``bundle`` is the model file of the package's kind (``meta["model_kind"]``): a network bundle
    (``model.pt``) or a rhythm model's ``model.json``.
    """
    out = Path(out_dir)
    for key in ("name", "version", "input", "labels"):
        if key not in meta:
            raise ValueError(f"meta needs {key!r}")
    if meta["input"] not in ("12-lead", "single-lead"):
        raise ValueError("meta['input'] must be '12-lead' or 'single-lead'")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(bundle, tmp / MODEL_FILES[model_kind(meta)])
    (tmp / "calibration.json").write_text(json.dumps(calibration, indent=1) + "\n")
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    (tmp / "card.md").write_text(card)
    if onnx is not None:
        shutil.copyfile(onnx, tmp / "model.onnx")
    if record_head is not None:
        (tmp / RECORD_HEAD_FILE).write_text(json.dumps(record_head) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def replace_card_section(card: str, title: str, section: str, before: str = "## Intended use") -> str:
    """``card`` with its ``title`` section (up to the next ``## ``) replaced by ``section``, or ``section`` added
    before the ``before`` section (at the end when there is none).  Packaging steps that run after the card was
    generated (the evidence combination, the int8 network) describe themselves this way."""
    if title in card:
        head, _, rest = card.partition(title)
        nxt = rest.find("\n## ")
        card = head + (rest[nxt + 1:] if nxt >= 0 else "")
    anchor = card.find(before)
    return card[:anchor] + section + card[anchor:] if anchor >= 0 else card.rstrip("\n") + "\n\n" + section
