"""Fit a package's evidence combination across sources (:mod:`ecgscope.inference.evidence`).

For every record of the fitting sources: the package's own calibrated probabilities and the record
features (one pass of the package's own Analyzer, cached per package and source),
then

1. the ``record`` models (every label, all record features) and the ``rhythm`` models (Atrial fibrillation,
   the rhythm statistics) are cross-fitted: every record's evidence comes from models fitted without its
   patient group, and the shipped models are fitted on all of them;
2. per label, the combination is fitted on all fitting records, every source with the same total weight,
   and its threshold chosen on out-of-fold combined probabilities (patient-grouped folds);
3. ``evidence.json`` is written into the package (its sha256 covers it).

A source is named with the folds it lends, ``name:folds`` (``cinc2017:1-9``, ``ptbxl100:9``): folds a
network or record head was trained on must not be among them (the network of the shipped packages was
trained on PTB-XL folds 1-8, so PTB-XL lends its validation fold 9), and test folds never are.

    python -m ecgscope.train.evidence --package src/ecgscope/inference/pretrained/ecgscope-17-1lead \\
        --sources ptbxl100:9 cinc2017:1-9 mitdb:1-9 ludb:1-9 cpsc2021:1-5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.datasets import ECGDataset, open_dataset
from ecgscope.inference.evidence import EvidenceCombiner, network_logits
from ecgscope.inference.package import EVIDENCE_FILE
from ecgscope.inference.record_head import RECORD_FEATURES
from ecgscope.record import Record
from ecgscope.signal.rhythm_features import RHYTHM_FEATURES

RHYTHM_LABELS = ("Atrial fibrillation",)
# sources whose every record counts as clean for Poor data quality: LUDB's records were each delineated wave by
# wave in all 12 leads by cardiologists (none unreadable); they teach the quality threshold what clean looks like
# on another hospital's carts (benchmarks/quality_gate.py reads LUDB the same way)
CLEAN_SOURCES = ("ludb",)  # the labels a rhythm-statistics model speaks to (docs/models.md)
N_GROUPS = 5  # patient-grouped cross-fitting folds


@dataclass
class SourceSpec:
    """A fitting (or test) source and the folds it lends."""

    name: str
    folds: tuple[int, ...]

    @classmethod
    def parse(cls, spec: str) -> SourceSpec:
        name, _, folds = spec.partition(":")
        if not name or not folds:
            raise ValueError(f"source {spec!r}: give it as name:folds, e.g. cinc2017:1-9 or ptbxl100:9")
        out: list[int] = []
        for part in folds.split(","):
            lo, _, hi = part.partition("-")
            try:
                out.extend(range(int(lo), int(hi or lo) + 1))
            except ValueError:
                raise ValueError(f"source {spec!r}: folds must be numbers or ranges (1-9,10)") from None
        return cls(name, tuple(sorted(set(out))))

    def __str__(self) -> str:
        runs: list[str] = []  # consecutive folds as ranges: cinc2017:1-9
        start = prev = None
        for f in (*self.folds, None):
            if start is not None and f == prev + 1:
                prev = f
                continue
            if start is not None:
                runs.append(str(start) if start == prev else f"{start}-{prev}")
            start = prev = f
        return f"{self.name}:{','.join(runs)}"


@dataclass
class EvidenceData:
    """The evidence inputs of one or more sources' rows."""

    features: np.ndarray  # (n, len(RECORD_FEATURES))
    package: np.ndarray  # (n, L) the package's own calibrated probabilities
    y: np.ndarray  # (n, L) NaN = not defined / not assessed
    source: np.ndarray  # (n,) source names
    patient: np.ndarray  # (n,) source-prefixed patient ids
    fold: np.ndarray  # (n,)
    record_id: np.ndarray  # (n,)

    def __len__(self) -> int:
        return len(self.y)

    def take(self, mask: np.ndarray) -> EvidenceData:
        return EvidenceData(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})

    @classmethod
    def concat(cls, parts: Sequence[EvidenceData]) -> EvidenceData:
        return cls(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in cls.__dataclass_fields__})

    @cached_property
    def groups(self) -> np.ndarray:
        """Patient-grouped cross-fitting folds (stable: a hash of the patient id)."""
        return np.array([int(hashlib.sha1(p.encode()).hexdigest(), 16) % N_GROUPS for p in self.patient])


def reading_record(analyzer, record: Record) -> Record:
    """The record a package reads when fitting: a single-lead model given a record without its lead reads the
    record's first lead (MIT-BIH's MLII), as ``substitute_lead`` would read a lead it must choose."""
    lead = analyzer.contract.single_lead
    if lead and lead not in record.leads:
        return record.select_leads([record.leads[0]])
    return record


def source_options(analyzer, name: str) -> dict[str, Any]:
    """How a source is opened for a package: a single-lead model reads MIT-BIH's first lead, so a window is of
    poor quality when that lead is marked noisy (most of MIT-BIH's noise marks are on the second lead)."""
    return {"noise_signal": 0} if name == "mitdb" and analyzer.contract.single_lead else {}


def _cache_path(cache: Path, analyzer, source: str) -> Path:
    return cache / f"{analyzer.package.name}-{analyzer.package.sha256[:12]}" / f"{source}.npz"


def source_evidence(analyzer, ds: ECGDataset, cache: Path | None = None, chunk: int = 64,
                    progress=print) -> EvidenceData:
    """Evidence inputs of every row of ``ds`` (cached per package and source under ``cache``)."""
    from ecgscope.calibrate.plausibility import QUALITY_LABEL
    from ecgscope.errors import RecordValidationError

    labels = analyzer.labels
    y = np.stack([ds.labels[name].to_numpy(np.float64) if name in ds.labels else np.full(len(ds), np.nan)
                  for name in labels], axis=1)
    if ds.name in CLEAN_SOURCES and QUALITY_LABEL in labels:
        q = labels.index(QUALITY_LABEL)
        y[:, q] = np.where(np.isnan(y[:, q]), 0.0, y[:, q])
    # PTB-XL at 100 and 500 Hz are the same patients: one prefix, so they share cross-fitting groups
    person = ds.name.removesuffix("100")
    meta = EvidenceData(features=None, package=None, y=y,  # type: ignore[arg-type]
                        source=np.full(len(ds), ds.name),
                        patient=np.array([f"{person}:{p}" for p in ds.index["patient_id"]]),
                        fold=ds.index["fold"].to_numpy(np.int64), record_id=ds.index["record_id"].astype(str).to_numpy())
    path = _cache_path(cache, analyzer, ds.name) if cache is not None else None
    if path is not None and path.is_file():
        z = np.load(path)
        if len(z["package"]) == len(ds):
            meta.features, meta.package = z["features"], z["package"]
            return meta
    feats, pkgs = [], []
    L, F = len(labels), len(RECORD_FEATURES)
    for i in range(0, len(ds), chunk):
        records = [reading_record(analyzer, ds.load(r)) for r in range(i, min(i + chunk, len(ds)))]
        try:
            f, p = analyzer.evidence_inputs(records)
        except RecordValidationError:  # a lead the model reads is swamped by an artifact: that record is missing
            rows = []
            for rec in records:
                try:
                    rows.append(analyzer.evidence_inputs([rec]))
                except RecordValidationError:
                    rows.append((np.full((1, F), np.nan), np.full((1, L), np.nan)))
            f, p = (np.concatenate([r[k] for r in rows]) for k in range(2))
        feats.append(f)
        pkgs.append(p)
        progress(f"  {ds.name}: {min(i + chunk, len(ds))}/{len(ds)}")
    meta.features, meta.package = np.concatenate(feats), np.concatenate(pkgs)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, features=meta.features, package=meta.package)
    return meta


def load_evidence(analyzer, specs: Sequence[SourceSpec], data_dir: str | os.PathLike | None = None,
                  cache: Path | None = None, progress=print) -> EvidenceData:
    """Evidence inputs of the rows of each source's lent folds."""
    parts = []
    for spec in specs:
        ds = open_dataset(spec.name, data_dir, **source_options(analyzer, spec.name))
        ev = source_evidence(analyzer, ds, cache, progress=progress)
        # a record whose read lead is not an ECG (an artifact the reader refuses) has no evidence: left out
        parts.append(ev.take(np.isin(ev.fold, spec.folds) & np.isfinite(ev.package).all(axis=1)))
    return EvidenceData.concat(parts)


# the feature evidence models: kind -> (features, L2 inverse strength, labels (None: every label))
FEATURE_EVIDENCE = {"record": (RECORD_FEATURES, 0.1, None), "rhythm": (RHYTHM_FEATURES, 1.0, RHYTHM_LABELS)}
MIN_FEATURE_POSITIVES = 10  # a feature model is fitted for a label with this many positives from >= 2 sources


def _feature_labels(data: EvidenceData, labels: tuple[str, ...], only: tuple[str, ...] | None) -> list[int]:
    out = []
    for j, name in enumerate(labels):
        y = data.y[:, j]
        k = np.isfinite(y)
        if (only is None or name in only) and MIN_FEATURE_POSITIVES <= y[k].sum() < k.sum() \
                and len(set(data.source[k])) >= 2:
            out.append(j)
    return out


def _fit_feature_models(comb: EvidenceCombiner, data: EvidenceData, kind: str, js: list[int]) -> None:
    features, C, _ = FEATURE_EVIDENCE[kind]
    for j in js:
        y = data.y[:, j]
        k = np.isfinite(y)
        comb.fit_feature_model(kind, comb.labels[j], data.features[k], y[k], features=features, C=C)


def cross_fitted_features(data: EvidenceData, labels: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Out-of-fold ``record`` and ``rhythm`` evidence: a record's logits come from models fitted without its
    patient group (so the combination is not fitted on in-sample logits)."""
    groups = data.groups
    out = {}
    for kind, (_, _, only) in FEATURE_EVIDENCE.items():
        js = _feature_labels(data, labels, only)
        z = np.full(data.y.shape, np.nan)
        for g in range(N_GROUPS):
            part = data.take(groups != g)
            fold = EvidenceCombiner(labels)
            _fit_feature_models(fold, part, kind, [j for j in js if j in _feature_labels(part, labels, only)])
            held = groups == g
            z[held] = fold.evidence_logits(data.package[held], data.features[held])[kind] if fold.needs_features \
                else np.nan
        out[kind] = z
    return out


def fit_combiner(analyzer, data: EvidenceData, **kwargs: Any) -> EvidenceCombiner:
    """The evidence combination of ``analyzer``'s package on ``data`` (module docstring)."""
    labels = analyzer.labels
    Z = {"network": network_logits(data.package), **cross_fitted_features(data, labels)}
    comb = EvidenceCombiner(labels, **kwargs)
    comb.fit(Z, data.y, data.source, data.groups, package_thresholds=analyzer.package.thresholds,
             patients=data.patient)
    for kind, (_, _, only) in FEATURE_EVIDENCE.items():  # the shipped models: fitted on every fitting record
        used = [j for j in _feature_labels(data, labels, only) if kind in comb.kinds_[j] and comb.combined_[j]]
        _fit_feature_models(comb, data, kind, used)
    return comb


def combined_probabilities(analyzer, comb: EvidenceCombiner, data: EvidenceData) -> np.ndarray:
    """What the Analyzer returns for ``data``'s records with ``comb`` in the package."""
    return comb.combine(data.package, data.features, explain=False)[0]


CARD_SECTION = "## Evidence combination"


def card_section(comb: EvidenceCombiner, specs: Sequence[SourceSpec]) -> str:
    """The model card's account of the combination: what it was fitted on, which labels it combines and how."""
    rows = [r for r in comb.fit_report_ if r["path"] == "combined"]
    table = "\n".join(
        f"| {r['label']} | {r['n_pos']} / {r['n']} | {', '.join(r['sources_with_positive_patients'])} | "
        + " | ".join(f"{r['weights'][k]:+.2f}" if k in r["weights"] else "–" for k in ("network", "record", "rhythm"))
        + f" | {r['threshold']:.3f} |" for r in rows)
    kept = [r["label"] for r in comb.fit_report_ if r["path"] != "combined"]
    return f"""{CARD_SECTION}

The default analysis combines, per label, the package's own calibrated probability (`network`), a logistic
model over whole-record measurements (`record`: rhythm statistics, PR/QRS/QT, axes, per-lead quality) and,
for Atrial fibrillation, one over the rhythm statistics alone (`rhythm`), in one probability fitted across
sources (`evidence.json`, `ecgscope.inference.evidence`): {', '.join(f'`{s}`' for s in specs)}; every source
weighs the same, the record and rhythm models are cross-fitted (patient-grouped), thresholds are the best mean
F1 over sources on out-of-fold probabilities (Poor data quality: at most {comb.max_clean_flagged:.0%} of any
source's clean records). Each result says which evidence carried each label. `combine_evidence=False`
(CLI `--fast`) is the network alone.

| label | positives / fitting records | sources with positives from >= {comb.min_positive_patients} patients | network | record | rhythm | threshold |
|---|---|---|---|---|---|---|
{table}

Weights are log-odds per unit of each evidence's logit. Kept on the package's own path (too few positives or
sources to combine): {', '.join(kept) or 'none'}. Per source, in source and leave-one-source-out:
`benchmarks/results/evidence_combination.md`.

"""


def describe_in_package(pkg: Path, comb: EvidenceCombiner, specs: Sequence[SourceSpec],
                        version: str | None = None) -> None:
    """Write the combination into the package's card (replacing an earlier account) and meta.json."""
    from ecgscope.inference.package import replace_card_section

    card = replace_card_section((pkg / "card.md").read_text(), CARD_SECTION, card_section(comb, specs))
    meta = json.loads((pkg / "meta.json").read_text())
    if version:
        meta["version"] = version
        card = card.replace(card.splitlines()[0], f"# {meta['name']} {version}", 1)
    meta["evidence"] = {"fitted_on": [str(s) for s in specs],
                        "combined_labels": [r["label"] for r in comb.fit_report_ if r["path"] == "combined"]}
    (pkg / "card.md").write_text(card)
    (pkg / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    from ecgscope.inference import Analyzer

    ap = argparse.ArgumentParser(prog="python -m ecgscope.train.evidence", description=__doc__.split("\n")[0])
    ap.add_argument("--package", required=True, help="model package directory (evidence.json is written into it)")
    ap.add_argument("--sources", nargs="+", required=True, help="fitting sources as name:folds")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--cache", default="runs/evidence", help="where evidence inputs are cached per package/source")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--version", default=None, help="the package's new version (meta.json), default unchanged")
    args = ap.parse_args(argv)
    try:
        specs = [SourceSpec.parse(s) for s in args.sources]
    except ValueError as e:
        ap.error(str(e))
    pkg = Path(args.package)
    if (pkg / EVIDENCE_FILE).exists():  # the evidence inputs are those of the package without a combination
        (pkg / EVIDENCE_FILE).unlink()
    analyzer = Analyzer(pkg)
    data = load_evidence(analyzer, specs, args.data_dir, Path(args.cache))
    comb = fit_combiner(analyzer, data, C=args.C)
    d = comb.to_dict()
    d["fitted_on"] = [str(s) for s in specs]
    d["package_sha256_before"] = analyzer.package.sha256
    (pkg / EVIDENCE_FILE).write_text(json.dumps(d) + "\n")
    describe_in_package(pkg, comb, specs, args.version)
    combined = [r["label"] for r in comb.fit_report_ if r["path"] == "combined"]
    print(f"wrote {pkg / EVIDENCE_FILE}: {len(combined)} labels combined ({', '.join(combined)}) from "
          f"{len(data)} records of {', '.join(map(str, specs))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
