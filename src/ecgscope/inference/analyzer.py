"""``Analyzer``: one call from a record to the clinical JSON result (DESIGN §4).

Pipeline, in order (each step's time is in ``timing_ms``)::

    record -> signal quality, limb-lead reversal -> preprocessing from the model's contract -> windowed inference
           -> recording-level aggregation (max / mean per label) -> calibration -> thresholds
           -> plausibility rules -> delineation, measurements, HRV -> result

A network package with a record head (``record_head.json``, :mod:`ecgscope.inference.record_head`) blends
whole-record measurements into the recording-level logits before calibration; the delineation it needs is
made once and reused for the result.

A record-level rhythm model (``model_kind: "rhythm-features"``, the AF detector) has no windows: its
logits come from :func:`~ecgscope.signal.rhythm_features.ecg_rhythm_features` of the record's
delineation (of the model's lead), then calibration onwards as above.

Failure modes are explicit.  A record that cannot satisfy the model's contract (shorter than one
window, missing leads, sampled below the model's band, a 12-lead model given one lead without
``allow_single_lead``) raises :class:`~ecgscope.errors.ContractError` naming the problem; an invalid
record (NaN, wrong units, ...) cannot be built in the first place.  A record that can be classified but
is too noisy gets a result marked ``reliable: false`` with the reasons; probabilities are never returned
without that verdict.

>>> from ecgscope.inference import Analyzer
>>> an = Analyzer.from_pretrained("ecgscope-17-12lead")                           # doctest: +SKIP
>>> res = an.analyze("../shared/data/ptbxl/records500/00000/00002_hr")           # doctest: +SKIP
>>> res.positive_labels()                                                         # doctest: +SKIP
['Sinus rhythm', 'Bradycardia']
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.calibrate._base import sigmoid
from ecgscope.errors import ContractError, RecordFormatError
from ecgscope.inference.backends import BACKENDS, INT8_FILE, OnnxBackend, TorchBackend
from ecgscope.inference.evidence import EvidenceCombiner
from ecgscope.inference.package import EVIDENCE_FILE, RECORD_HEAD_FILE, ModelPackage, load_package
from ecgscope.inference.record_head import RECORD_FEATURES, RecordHead, record_features
from ecgscope.inference.rhythm_model import RHYTHM_MODEL_FILE, RhythmBackend, feature_matrix
from ecgscope.inference.schema import SCHEMA_VERSION, AnalysisResult
from ecgscope.io import load_record
from ecgscope.labels import MAX_AGGREGATED
from ecgscope.record import Record
from ecgscope.signal import (
    FIDUCIALS,
    MEASUREMENT_METHODS,
    ecg_delineate,
    ecg_hrv,
    ecg_measurements,
    ecg_quality,
)
from ecgscope.signal.contract import InputContract, ModelInput, Preprocessor
from ecgscope.signal.delineate import MIN_DELINEATION_FS, Delineation
from ecgscope.signal.lead_reversal import LeadReversal, ecg_lead_reversal
from ecgscope.signal.rhythm_features import MIN_RR_INTERVALS, ecg_rhythm_features

_MS = 1000.0
_RHYTHM_QUALITY_WINDOW_S = 5.0  # quality flags per 5 s for the rhythm models (they have no model window)
_FEW_BEATS = 20  # a rhythm assessment from fewer beats is flagged as less reliable
# records prepared and classified together by analyze_many / classify_many: enough windows for the backends'
# batches and threads, and a bounded memory (a 10-s 12-lead record is ~50 kB of windows at 100 Hz)
BLOCK_RECORDS = 256


@dataclass
class Result:
    """One analysis; ``to_dict()`` is the DESIGN §4 JSON (validated against the shipped schema)."""

    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.data, **kw)

    def positive_labels(self) -> list[str]:
        return [lab["name"] for lab in self.data["classification"]["labels"] if lab["positive"]]

    @property
    def reliable(self) -> bool:
        return bool(self.data["classification"]["reliable"])


def _r(v: float | None, nd: int = 4) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


class Analyzer:
    """Classify and analyse ECG records with a model package.

    Parameters
    ----------
    package : ModelPackage or name or path
    backend : {"torch", "onnx", "onnx-int8"}
        Where a network runs (a rhythm-feature package has one engine and ignores this).  ``onnx-int8`` runs the
        package's int8 network (``model.int8.onnx``), shipped only where it keeps the float network's validation
        AUROC within 0.002 (the package's card says so); calibration and thresholds are the float network's.
    threads : int, optional
        Intra-op threads for the backend (None: the library default).
    delineation : {"learned", "neurokit"}
    qtc_formula : str
        bazett, fridericia, framingham or hodges.
    measurement : {"median_beat", "beats"}
        How the global PR, QRS, QT and axes are measured (:func:`~ecgscope.signal.ecg_measurements`): on the
        record's median beat of the dominant class (the default, as 12SL-type programs do; the result then
        carries the template under ``median_beat``), or as the median of per-beat intervals.
    allow_single_lead : bool
        Let a 12-lead model take a one-lead record by duplicating it (flagged ``single_lead`` in the result,
        with a warning that the model was not trained on such input).
    pad_short : bool
        Zero-pad a record shorter than one model window instead of refusing it.
    substitute_lead : bool
        For a single-lead model: when the record lacks the model's lead (lead I) but has others, use its
        best-quality lead instead and say so in the result's warnings.  Off by default (an error).
    combine_evidence : bool
        Use the package's evidence combination (``evidence.json``: network, whole-record measurements and
        rhythm statistics in one probability per label, fitted across sources) when it has one.  False is the
        fast mode for batch classification: the network (and record head) alone, with the package's own
        calibration and thresholds, and no delineation per record unless the record head needs one.
    """

    def __init__(self, package: ModelPackage | str | os.PathLike, backend: str = "torch", threads: int | None = None,
                 delineation: str = "learned", qtc_formula: str = "bazett", allow_single_lead: bool = False,
                 pad_short: bool = False, substitute_lead: bool = False, combine_evidence: bool = True,
                 measurement: str = "median_beat"):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
        if measurement not in MEASUREMENT_METHODS:
            raise ValueError(f"unknown measurement method {measurement!r}; valid methods: "
                             f"{', '.join(MEASUREMENT_METHODS)}")
        self.measurement = measurement
        self.package = package if isinstance(package, ModelPackage) else load_package(package)
        path = self.package.path
        self.allow_single_lead = allow_single_lead
        self.substitute_lead = substitute_lead
        self.rhythm = self.package.model_kind == "rhythm-features"
        if self.rhythm:
            self.backend: TorchBackend | OnnxBackend | RhythmBackend = RhythmBackend(path / RHYTHM_MODEL_FILE)
            self._torch_model = None
            self.contract: InputContract | None = None
            self.preprocessor: Preprocessor | None = None
            self.rhythm_lead: str = self.package.meta.get("lead", "I")
        else:
            self.backend = (TorchBackend(path / "model.pt", threads) if backend == "torch"
                            else OnnxBackend(path / (INT8_FILE if backend == "onnx-int8" else "model.onnx"), threads,
                                             name=backend))
            self._torch_model = self.backend.model if backend == "torch" else None
            contract = InputContract.from_dict(self.package.meta["contract"])  # written from the bundle at packaging
            if pad_short:
                contract = contract.replace(pad_short=True)
            self.contract = contract
            self.preprocessor = Preprocessor(contract, allow_single_lead=allow_single_lead)
        self.head = RecordHead.load(path / RECORD_HEAD_FILE) if (path / RECORD_HEAD_FILE).is_file() else None
        self.evidence = None
        if combine_evidence and (path / EVIDENCE_FILE).is_file():
            try:
                self.evidence = EvidenceCombiner.load(path / EVIDENCE_FILE)
            except (ValueError, KeyError) as e:
                raise RecordFormatError(f"{self.package.name}: unreadable {EVIDENCE_FILE}: {e}", source=str(path),
                                        code="bad_model_package") from e
            if self.evidence.labels != self.package.labels:
                raise RecordFormatError(f"{self.package.name}: {EVIDENCE_FILE} was fitted for other labels than the "
                                        "model's", source=str(path), code="bad_model_package")
        # thresholds of the final probabilities: the evidence combination's where it combines a label
        self.thresholds = self.evidence.thresholds_ if self.evidence is not None else self.package.thresholds
        # whole-record features (a delineation per record) feed the record head and the rhythm evidence
        self.needs_record_features = self.head is not None or (self.evidence is not None
                                                               and self.evidence.needs_features)
        self.delineation = delineation
        self.qtc_formula = qtc_formula
        self.threads = threads or 1
        labels = self.package.labels
        self.labels = labels
        self._max_agg = np.array([name in MAX_AGGREGATED for name in labels])

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any) -> Analyzer:
        """A shipped model by name (``ecgscope-17-12lead``, ``ecgscope-17-1lead``, ...) or a package directory."""
        return cls(load_package(name_or_path), **kwargs)

    # ------------------------------------------------------------------ steps
    def _check_record(self, record: Record) -> list[str]:
        c = self.contract
        warnings: list[str] = []
        if c is None:  # a rhythm model reads the delineation, which needs 100 Hz
            if record.fs < MIN_DELINEATION_FS:
                raise ContractError(f"record is sampled at {record.fs:g} Hz; {self.package.name} reads P waves and "
                                    f"R peaks from a delineation that needs at least {MIN_DELINEATION_FS:g} Hz",
                                    code="fs_below_model_band")
            return warnings + self._record_warnings(record)
        upper = c.bandpass[1] if c.bandpass else 0.4 * c.fs
        if record.fs / 2 < upper:
            raise ContractError(
                f"record is sampled at {record.fs:g} Hz; this model reads content up to {upper:g} Hz, which needs "
                f"at least {2 * upper:g} Hz", code="fs_below_model_band")
        if self.package.input_kind == "12-lead" and record.n_leads == 1:
            if not self.allow_single_lead:
                raise ContractError(
                    f"{self.package.name} is a 12-lead model and the record has one lead ({record.leads[0]}); use a "
                    "single-lead model (ecgscope-17-1lead) or pass allow_single_lead=True to duplicate the lead",
                    code="single_lead_to_12_lead_model")
            warnings.append("one lead duplicated into 12 channels for a 12-lead model that was not trained on "
                            "duplicated input: expect lower accuracy")
        if c.pad_short and record.duration_s < c.window_s:
            warnings.append(f"record zero-padded from {record.duration_s:.1f} s to one {c.window_s:g}-s model window: "
                            "the probabilities rest partly on padding")
        return warnings + self._record_warnings(record)

    @staticmethod
    def _record_warnings(record: Record) -> list[str]:
        warnings: list[str] = []
        if record.unknown_leads:
            warnings.append(f"unknown lead names ignored: {', '.join(record.unknown_leads)}")
        if record.metadata.get("warnings"):
            warnings.extend(str(w) for w in record.metadata["warnings"])
        return warnings

    def _probabilities(self, logits: np.ndarray, owner: np.ndarray, n: int, head_x: np.ndarray | None = None,
                       explain: bool = True) -> list[tuple[np.ndarray, np.ndarray, list[dict[str, Any]] | None]]:
        """Window probabilities -> per record (window probs, final recording probs, per-label evidence or None);
        ``head_x`` are the records' :data:`RECORD_FEATURES` (when the package's record head or evidence
        combination needs them); ``explain=False`` skips the per-label evidence (batch classification)."""
        win = sigmoid(logits)
        owned = [win[owner == k] for k in range(n)]
        probs = self._package_probs(self._aggregate(owned), head_x)
        if self.evidence is None:
            return [(owned[k], probs[k], None) for k in range(n)]
        final, evidence = self.evidence.combine(probs, head_x, explain=explain)
        return [(owned[k], final[k], evidence[k] if evidence is not None else None) for k in range(n)]

    def _package_probs(self, rec: np.ndarray, head_x: np.ndarray | None) -> np.ndarray:
        """The package's own calibrated probabilities of recording-level network probabilities ``rec``: blended
        with the record head when it has one, then calibrated."""
        return self._calibrated(self.head.blend(rec, head_x) if self.head is not None else rec)

    def _classification(self, win: np.ndarray, probs: np.ndarray, starts_s: np.ndarray,
                        quality_ok: bool, quality_issues: list[str], reversal: LeadReversal,
                        evidence: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        thr = self.thresholds
        pkg = self.package
        if pkg.rules is not None:
            outcome = pkg.rules.apply(probs, thr)
            probs_final, positive = outcome.probabilities, outcome.positive
            suppressed, adjustments = outcome.suppressed, outcome.adjustments
            reasons = [outcome.unreliable_reason] if outcome.unreliable else []
        else:
            probs_final, positive, suppressed, adjustments, reasons = probs, probs >= thr, [], [], []
        if not quality_ok:
            reasons.append("signal quality gate failed: " + ("; ".join(quality_issues) or "no usable lead"))
        if reversal.detected:  # swapped limb leads mislead every label: shown, but not to be relied on
            reasons.append(reversal.issue())
        labels = [{"name": n, "probability": _r(float(np.clip(p, 0, 1)), 4), "threshold": _r(float(t), 4),
                   "positive": bool(pos)}
                  for n, p, t, pos in zip(self.labels, probs_final, thr, positive, strict=True)]
        if evidence is not None:
            for lab, ev in zip(labels, evidence, strict=True):
                lab["evidence"] = ev
        return {
            "labels": labels,
            "suppressed": suppressed,
            "windows": [{"start_s": _r(float(s), 3),
                         "probabilities": {n: _r(float(v), 4) for n, v in zip(self.labels, row, strict=True)}}
                        for s, row in zip(starts_s, win, strict=True)],
            "adjustments": adjustments,
            "reliable": not reasons,
            "unreliable_reasons": reasons,
        }

    def _signal_analysis(self, record: Record, quality,
                         delin: Delineation | None = None) -> tuple[dict, dict, dict, dict | None, float]:
        t0 = time.perf_counter()
        if delin is None:
            delin = ecg_delineate(record, method=self.delineation, quality=quality)
        meas = ecg_measurements(record, delin, qtc_formula=self.qtc_formula, method=self.measurement)
        r_ms = np.round(delin.table()[:, FIDUCIALS.index("r_peak")], 1)  # as the JSON gives them
        r_ms = r_ms[np.isfinite(r_ms)]
        hrv = ecg_hrv(np.round(r_ms / _MS * record.fs).astype(np.int64), record.fs)
        rr = np.diff(r_ms)
        hr = meas.get("heart_rate_bpm")
        rhythm = {
            "heart_rate_bpm": hr,
            "rr_ms": [round(float(v), 1) for v in rr],
            "hrv": {"rmssd_ms": hrv.get("rmssd_ms"), "sdnn_ms": hrv.get("sdnn_ms"), "sd1_ms": hrv.get("sd1_ms"),
                    "sd2_ms": hrv.get("sd2_ms"), "mean_rr_ms": hrv.get("mean_rr_ms"), "pnn50": hrv.get("pnn50"),
                    "n_beats": hrv.get("n_beats"), "ectopic_handling": hrv.get("ectopic_handling")},
        }
        delineation = delin.to_full_dict()
        measurements = {k: meas.get(k) for k in ("heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "qtc_formula",
                                                 "p_axis_deg", "qrs_axis_deg", "t_axis_deg", "method")}
        median = meas["median_beat"].to_dict() if "median_beat" in meas else None
        return rhythm, delineation, measurements, median, (time.perf_counter() - t0) * _MS

    def _saliency(self, batch: ModelInput | None, probs: np.ndarray, labels: Sequence[str] | None, method: str,
                  duration_s: float) -> dict[str, Any]:
        from ecgscope.inference.explain import stitch, window_saliency

        if self.rhythm:
            raise ContractError(f"{self.package.name} is a rhythm-statistics model, not a network: it has no "
                                "saliency map (its inputs are the RR intervals and P waves in the result)",
                                code="explain_needs_network")
        if self._torch_model is None:
            raise ContractError("saliency needs the torch backend (gradients); use backend='torch'",
                                code="explain_needs_torch")
        if labels is None:
            order = np.argsort(-(probs - self.thresholds))
            chosen = [int(j) for j in order if probs[j] >= self.thresholds[j]] or [int(order[0])]
        else:
            unknown = [n for n in labels if n not in self.labels]
            if unknown:
                raise ValueError(f"unknown labels {unknown}; the model's labels are {list(self.labels)}")
            chosen = [self.labels.index(n) for n in labels]
        maps = window_saliency(self._torch_model, batch.windows, chosen, method=method)
        starts = np.round(batch.starts_s * self.contract.fs).astype(np.int64)
        full = stitch(maps, starts, int(round(duration_s * self.contract.fs)))
        return {"fs": self.contract.fs, "method": method,
                "labels": {self.labels[j]: np.round(full[k], 4).tolist() for k, j in enumerate(chosen)}}

    def _assemble(self, record: Record, source: str | None, batch: ModelInput | None, win: np.ndarray,
                  probs: np.ndarray, quality, warnings: list[str], timings: dict[str, float], explain: bool,
                  explain_labels, explain_method: str, delin: Delineation | None = None,
                  evidence: list[dict[str, Any]] | None = None) -> Result:
        """``batch`` is None for a rhythm model (no windows); ``delin`` is a delineation already made;
        ``evidence``: per label, what carried it (a package with an evidence combination)."""
        q = quality.to_dict()
        t0 = time.perf_counter()
        reversal = ecg_lead_reversal(record)
        timings["preprocess"] = timings.get("preprocess", 0.0) + (time.perf_counter() - t0) * _MS
        quality_json = {"usable": bool(q["usable"]), "per_lead": {k: _r(v, 3) for k, v in q["per_lead"].items()},
                        "issues": list(q["issues"]), "windows": q.get("windows", []),
                        "lead_reversal": reversal.to_dict()}
        if reversal.detected:
            quality_json["issues"].append(reversal.issue())
        starts = batch.starts_s if batch is not None else np.zeros(0)
        cls = self._classification(win, probs, starts, quality_json["usable"], q["issues"], reversal, evidence)
        rhythm, delineation, measurements, median_beat, t_del = self._signal_analysis(record, quality, delin)
        timings["delineate"] = timings.get("delineate", 0.0) + t_del
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "model": {"name": self.package.name, "version": self.package.version, "sha256": self.package.sha256,
                      "input": self.package.input_kind, "labels": list(self.labels)},
            "input": {"source": source, "fs": record.fs, "leads": list(record.leads),
                      "duration_s": round(record.duration_s, 4),
                      "single_lead": bool(batch.single_lead) if batch is not None else self._reads_one_lead(record)},
            "quality": quality_json,
            "classification": cls,
            "rhythm": rhythm,
            "delineation": delineation,
            "measurements": measurements,
            "timing_ms": {},
            "warnings": warnings,
        }
        if median_beat is not None:
            data["median_beat"] = median_beat
        if explain:
            t0 = time.perf_counter()
            data["saliency"] = self._saliency(batch, probs, explain_labels, explain_method, record.duration_s)
            timings["explain"] = (time.perf_counter() - t0) * _MS
        data["timing_ms"] = {k: round(timings.get(k, 0.0), 3) for k in ("preprocess", "classify", "delineate")}
        data["timing_ms"]["total"] = round(sum(timings.values()), 3)
        AnalysisResult.model_validate(data)  # the shipped schema is a contract: never emit what breaks it
        return Result(data)

    # ------------------------------------------------------------------ public API
    def prepare(self, record: Record) -> tuple[ModelInput, Any, list[str]]:
        """Quality and model input of one record (the part before inference)."""
        warnings = self._check_record(record)
        quality = ecg_quality(record, window_s=self.contract.window_s)
        lead = self.contract.single_lead
        if lead and lead not in record.leads and record.n_leads > 1:  # substitute (or refuse) as _reading says
            return self.preprocessor(self._reading(record, quality, warnings)), quality, warnings
        return self.preprocessor(record), quality, warnings

    def _reads_one_lead(self, record: Record) -> bool:
        return record.n_leads == 1 or self.package.input_kind == "single-lead"

    def _reading(self, record: Record, quality, warnings: list[str] | None) -> Record:
        """The record a single-lead model reads: its lead (lead I) of a multi-lead record, or the best lead when
        ``substitute_lead`` allows it.  ``warnings=None``: the choice was already checked and reported (prepare).
        ``quality``: the whole record's report, or None to make it only when a lead must be chosen."""
        if record.n_leads == 1 or self.package.input_kind != "single-lead":
            return record
        lead = self.rhythm_lead if self.rhythm else self.contract.single_lead
        if lead in record.leads:
            return record.select_leads([lead])
        quality = quality if quality is not None else ecg_quality(record, windows=False)
        best = max(record.leads, key=lambda n: (quality.lead_usable(n), quality.per_lead[n]))
        if warnings is None:
            return record.select_leads([best])
        if not self.substitute_lead:
            raise ContractError(
                f"{self.package.name} reads lead {lead} and the record has {list(record.leads)}; pass "
                "substitute_lead=True to use its best lead instead", code="missing_leads")
        warnings.append(f"lead {lead} not present: lead {best} used in its place (the model was trained on "
                        f"lead {lead})")
        return record.select_leads([best])

    def _reading_delineation(self, record: Record, quality, warnings: list[str] | None,
                             whole: Delineation | None = None):
        """The record the model reads (:meth:`_reading`), its learned delineation and its quality report;
        ``whole`` is the whole record's delineation when already made (used when the model reads it all)."""
        reading = self._reading(record, quality, warnings)
        if reading is record:
            quality = quality if quality is not None else ecg_quality(record, windows=False)
            return record, (whole if whole is not None else ecg_delineate(record, quality=quality)), quality
        q = ecg_quality(reading, windows=False)
        return reading, ecg_delineate(reading, quality=q), q

    def _rhythm_statistics(self, record: Record, quality, warnings: list[str],
                           strict: bool = True) -> tuple[dict[str, float], Delineation | None]:
        """Rhythm statistics of the lead the model reads, and its delineation when that is the whole record's
        (the result's delineation can reuse it).

        ``strict``: refuse a record with too few beats (analysis); dataset scoring passes False and the
        model fills the statistics it lacks with their training medians.
        """
        reading, delin, _ = self._reading_delineation(record, quality, warnings)
        features = ecg_rhythm_features(reading, delin)
        n_beats = int(np.isfinite(delin.table()[:, FIDUCIALS.index("r_peak")]).sum())
        if strict and n_beats < MIN_RR_INTERVALS + 1:
            raise ContractError(
                f"{self.package.name} assesses the rhythm from at least {MIN_RR_INTERVALS + 1} beats; "
                f"{n_beats} were found in this {record.duration_s:.1f}-s record (too short, or too noisy to find "
                "the beats)", code="too_few_beats")
        if n_beats < _FEW_BEATS:
            warnings.append(f"rhythm assessed from only {n_beats} beats: a strip of 30 s or more is more reliable")
        return features, (delin if reading is record else None)

    def head_features(self, record: Record, quality=None, delineation: Delineation | None = None) -> dict[str, float]:
        """The record head's features of ``record`` (:func:`~ecgscope.inference.record_head.record_features` of
        the record the model reads); ``quality`` / ``delineation`` of the whole record if already made (a
        single-lead model that finds its lead needs neither: it reads that lead alone)."""
        return record_features(*self._reading_delineation(record, quality, None, delineation))

    def _analyze_rhythm(self, record: Record, source: str | None, t_load: float, explain: bool,
                        explain_labels, explain_method: str) -> Result:
        t0 = time.perf_counter()
        warnings = self._check_record(record)
        quality = ecg_quality(record, window_s=_RHYTHM_QUALITY_WINDOW_S)
        t_pre = t_load + (time.perf_counter() - t0) * _MS
        t0 = time.perf_counter()
        features, delin = self._rhythm_statistics(record, quality, warnings)
        t_del = (time.perf_counter() - t0) * _MS
        t0 = time.perf_counter()
        probs = self._calibrated(sigmoid(self.backend.logits([features])))[0]
        timings = {"preprocess": t_pre, "classify": (time.perf_counter() - t0) * _MS, "delineate": t_del}
        return self._assemble(record, source, None, np.zeros((0, len(self.labels))), probs, quality, warnings,
                              timings, explain, explain_labels, explain_method,
                              delin if self.delineation == "learned" else None)

    def _calibrated(self, probs: np.ndarray) -> np.ndarray:
        return self.package.calibrator.predict_proba(probs) if self.package.calibrator else probs

    def analyze(self, record: Record | str | os.PathLike, *, explain: bool = False,
                explain_labels: Sequence[str] | None = None, explain_method: str = "gradcam") -> Result:
        """Analyse one record (a :class:`Record` or a path any reader accepts)."""
        return self.analyze_many([record], explain=explain, explain_labels=explain_labels,
                                 explain_method=explain_method)[0]

    def analyze_many(self, records: Iterable[Record | str | os.PathLike], *, explain: bool = False,
                     explain_labels: Sequence[str] | None = None, explain_method: str = "gradcam",
                     block: int = BLOCK_RECORDS) -> list[Result]:
        """Analyse several records with batched inference (throughput).

        Records are read, prepared and classified ``block`` at a time, so the records and windows in memory at
        once are a block's, whatever the length of the input (a generator of paths streams)."""
        results: list[Result] = []
        pending: list[Record | str | os.PathLike] = []
        for r in records:
            pending.append(r)
            if len(pending) >= block:
                results += self._analyze_block(pending, explain, explain_labels, explain_method)
                pending = []
        if pending:
            results += self._analyze_block(pending, explain, explain_labels, explain_method)
        return results

    def _analyze_block(self, records: list[Record | str | os.PathLike], explain: bool,
                       explain_labels: Sequence[str] | None, explain_method: str) -> list[Result]:
        items = []
        for r in records:
            t0 = time.perf_counter()
            source = None
            if not isinstance(r, Record):
                source = Path(r).name
                r = load_record(r)
            if self.rhythm:  # record-level: nothing to batch
                items.append(self._analyze_rhythm(r, source or r.record_id, (time.perf_counter() - t0) * _MS,
                                                  explain, explain_labels, explain_method))
                continue
            batch, quality, warnings = self.prepare(r)
            t_pre = (time.perf_counter() - t0) * _MS
            delin, feats, t_head = None, None, 0.0
            if self.needs_record_features:  # the delineation the head needs is the one the result shows
                t0 = time.perf_counter()
                delin = ecg_delineate(r, method="learned", quality=quality)
                feats = self.head_features(r, quality, delin)
                t_head = (time.perf_counter() - t0) * _MS
            items.append((r, source or r.record_id, batch, quality, warnings, t_pre, delin, feats, t_head))
        if not items or self.rhythm:
            return items
        t0 = time.perf_counter()
        windows = np.concatenate([it[2].windows for it in items])
        owner = np.concatenate([np.full(len(it[2].windows), k) for k, it in enumerate(items)])
        logits = self.backend.logits(windows)
        head_x = feature_matrix([it[7] for it in items], RECORD_FEATURES) if self.needs_record_features else None
        per_record = self._probabilities(logits, owner, len(items), head_x)
        t_cls = (time.perf_counter() - t0) * _MS / len(items)
        results = []
        for (rec, source, batch, quality, warnings, t_pre, delin, _, t_head), (win, probs, evidence) in zip(
                items, per_record, strict=True):
            timings = {"preprocess": t_pre, "classify": t_cls, "delineate": t_head}
            results.append(self._assemble(rec, source, batch, win, probs, quality, warnings, timings, explain,
                                          explain_labels, explain_method,
                                          delin if self.delineation == "learned" else None, evidence))
        return results

    def classify_many(self, records: Sequence[Record]) -> np.ndarray:
        """Calibrated recording-level probabilities only, (n_records, n_labels): batch classification without
        delineation or result assembly (throughput benchmarks, dataset scoring)."""
        if self.rhythm:
            feats = [self._rhythm_statistics(r, ecg_quality(r, windows=False), [], strict=False)[0] for r in records]
            return self._calibrated(sigmoid(self.backend.logits(feats)))
        out = []
        for i in range(0, len(records), BLOCK_RECORDS):  # a block's windows in memory at once, not the input's
            block = records[i:i + BLOCK_RECORDS]
            logits, owner, head_x = self._batch_inputs(block, self.needs_record_features)
            out += [p for _, p, _ in self._probabilities(logits, owner, len(block), head_x, explain=False)]
        return np.stack(out) if out else np.zeros((0, len(self.labels)))

    def evidence_inputs(self, records: Sequence[Record]) -> tuple[np.ndarray, np.ndarray]:
        """What an evidence combination is fitted on (:mod:`ecgscope.train.evidence`), per record: the
        :data:`RECORD_FEATURES` (n, n_features) and the package's own calibrated probabilities (n, n_labels)."""
        if self.rhythm:
            raise ContractError(f"{self.package.name} is a rhythm-statistics model, not a network",
                                code="evidence_needs_network")
        logits, owner, head_x = self._batch_inputs(records, True)
        win = sigmoid(logits)
        return head_x, self._package_probs(self._aggregate([win[owner == k] for k in range(len(records))]), head_x)

    def _aggregate(self, owned: list[np.ndarray]) -> np.ndarray:
        """Each record's window probabilities -> recording-level (n, n_labels): max or mean over windows per label."""
        return np.stack([np.where(self._max_agg, w.max(axis=0), w.mean(axis=0)) for w in owned])

    def _batch_inputs(self, records: Sequence[Record], features: bool
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Window logits of all ``records``, the record each window belongs to, and (``features``) the records'
        :data:`RECORD_FEATURES`."""
        def prepare(part: Sequence[Record]) -> tuple[list[ModelInput], list[dict[str, float] | None]]:
            inputs = [self.preprocessor(r) for r in part]
            return inputs, [self.head_features(r) if features else None for r in part]

        def prepare_and_run(part: Sequence[Record]) -> tuple[list[ModelInput], list, np.ndarray]:
            inputs, feats = prepare(part)
            return inputs, feats, self.backend.logits_serial(np.concatenate([b.windows for b in inputs]))

        n_parts = min(self.threads, len(records) // 2)
        if n_parts > 1:
            # one share of the records per thread, each prepared and run through the network by that thread:
            # the network releases the GIL, so one thread's (GIL-bound) preprocessing runs while the other's
            # network does, with no barrier between the two steps (an ONNX session runs several calls at once;
            # PyTorch's own intra-op threads are used instead, on the prepared windows)
            from concurrent.futures import ThreadPoolExecutor

            bounds = np.linspace(0, len(records), n_parts + 1).astype(int)
            parts = [records[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
            serial = hasattr(self.backend, "logits_serial")
            with ThreadPoolExecutor(n_parts) as pool:
                done = list(pool.map(prepare_and_run if serial else prepare, parts))
            inputs = [b for d in done for b in d[0]]
            feats = [f for d in done for f in d[1]]
            logits = (np.concatenate([d[2] for d in done]) if serial
                      else self.backend.logits(np.concatenate([b.windows for b in inputs])))
        else:
            inputs, feats = prepare(records)
            logits = self.backend.logits(np.concatenate([b.windows for b in inputs]))
        owner = np.concatenate([np.full(len(b.windows), k) for k, b in enumerate(inputs)])
        head_x = feature_matrix(feats, RECORD_FEATURES) if features else None
        return logits, owner, head_x

    def info(self) -> dict[str, Any]:
        return {**self.package.info(), "backend": self.backend.name,
                "contract": self.contract.to_dict() if self.contract is not None else None}


TWELVE_LEAD_MODEL = "ecgscope-17-12lead"
SINGLE_LEAD_MODEL = "ecgscope-17-1lead"


def choose_model(record: Record) -> str:
    """The shipped model for a record: the 12-lead model when it has all 12 standard leads, else the
    single-lead (wearable) model."""
    from ecgscope.leads import STANDARD_LEADS

    return TWELVE_LEAD_MODEL if set(STANDARD_LEADS) <= set(record.leads) else SINGLE_LEAD_MODEL


def list_pretrained() -> list[dict[str, Any]]:
    """The models shipped inside ecgscope (name, version, sha256, input, labels, model card)."""
    from ecgscope.inference.package import list_package_names

    return [load_package(n).info() for n in list_package_names()]
