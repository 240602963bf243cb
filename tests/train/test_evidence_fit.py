"""Fitting the evidence combination across sources on the real data (ecgscope.train.evidence)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.datasets import open_dataset
from ecgscope.datasets.mitdb import BeatAnnotations
from ecgscope.train.evidence import (
    SourceSpec,
    combined_probabilities,
    cross_fitted_features,
    fit_combiner,
    load_evidence,
)


@pytest.fixture(scope="module")
def wearable(data_dir):
    from ecgscope.inference import Analyzer

    an = Analyzer.from_pretrained("ecgscope-17-1lead")
    specs = [SourceSpec.parse("ludb:1-9"), SourceSpec.parse("cpsc2021:1-3")]
    return an, load_evidence(an, specs, data_dir, cache=None, progress=lambda m: None)


def test_only_the_lent_folds_fit_and_patients_are_prefixed_by_source(wearable, data_dir):
    _, data = wearable
    assert set(data.source) == {"ludb", "cpsc2021"}
    assert set(data.fold[data.source == "ludb"]) <= set(range(1, 10))
    assert set(data.fold[data.source == "cpsc2021"]) <= {1, 2, 3}
    assert all(p.startswith(("ludb:", "cpsc2021:")) for p in data.patient)
    # patient-grouped cross-fitting folds: no patient in two groups
    groups = data.groups
    for p in set(data.patient):
        assert len(set(groups[data.patient == p])) == 1


def test_the_record_evidence_the_combination_is_fitted_on_is_out_of_fold(wearable):
    an, data = wearable
    oof = cross_fitted_features(data, an.labels)
    comb = fit_combiner(an, data, min_positive_patients=2)  # a few AF patients in these folds
    j = an.labels.index("Atrial fibrillation")
    assert comb.combined_[j] and "record" in comb.kinds_[j]
    in_sample = comb.evidence_logits(data.package, data.features)["record"][:, j]
    assert np.isfinite(oof["record"][:, j]).all() and not np.allclose(oof["record"][:, j], in_sample)
    # an undefined label is never scored as negative: LUDB and CPSC 2021 do not define Infarction... for one lead
    p = combined_probabilities(an, comb, data)
    assert p.shape == data.y.shape and np.isfinite(p).all()
    y = data.y[:, j]
    k = np.isfinite(y)
    from ecgscope.evaluate.metrics import auroc

    assert auroc(y[k], p[k, j]) > 0.9  # in-sample sanity: AF from whole-record rhythm is easy on these


def test_mitdb_noise_of_one_signal_only():
    # signal 1 (V1) noisy from sample 100, both from 300, clean from 500, signal 0 unreadable (bit 4) from 600,
    # every signal unreadable (-1) from 700
    ann = BeatAnnotations(360.0, 1000, np.zeros(0, np.int64), np.zeros(0, "<U1"), np.zeros(0, np.int64), [],
                          np.array([100, 300, 500, 600, 700]), np.array([2, 3, 0, 16, -1]))
    assert ann.noisy_samples(0, 1000) == 200 + 200 + 100 + 300
    assert ann.noisy_samples(0, 1000, signal=0) == 200 + 100 + 300
    assert ann.noisy_samples(0, 1000, signal=1) == 200 + 200 + 300


def test_a_single_lead_reading_of_mitdb_counts_its_first_leads_noise(data_dir):
    either = open_dataset("mitdb", data_dir).labels["Poor data quality"].to_numpy()
    first = open_dataset("mitdb", data_dir, noise_signal=0).labels["Poor data quality"].to_numpy()
    assert first.sum() < either.sum() and not (first > either).any()
