"""Record-level rhythm statistics: exact on known beat trains, and separating AF from sinus rhythm on CinC 2017."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.record import Record
from ecgscope.signal import ecg_delineate
from ecgscope.signal.delineate import FIDUCIALS, Delineation
from ecgscope.signal.rhythm_features import RHYTHM_FEATURES, _sample_entropy, ecg_rhythm_features


def _beats(r_ms: np.ndarray, p: bool) -> Delineation:
    beats = np.full((len(r_ms), 8), np.nan)
    beats[:, FIDUCIALS.index("r_peak")] = r_ms
    beats[:, FIDUCIALS.index("qrs_on")] = r_ms - 40
    if p:
        beats[:, FIDUCIALS.index("p_on")] = r_ms - 200
    return Delineation(beats, {"I": beats}, 250.0, "learned")


def _record(seconds: float = 30.0, fs: float = 250.0) -> Record:
    rng = np.random.default_rng(0)
    return Record.from_array(0.05 * rng.normal(size=int(seconds * fs)), fs=fs, leads=["I"])


def test_rr_statistics_are_the_textbook_ones_on_a_known_beat_train():
    rr = np.array([0.8, 0.9, 0.7, 1.0, 0.75, 0.85, 0.95, 0.8, 0.9, 0.7])
    r_ms = 500 + 1000 * np.concatenate([[0], np.cumsum(rr)])
    f = ecg_rhythm_features(_record(), _beats(r_ms, p=True))
    assert list(f) == list(RHYTHM_FEATURES)
    rr = np.diff(r_ms) / 1000  # the statistics see the rounded positions
    d = np.abs(np.diff(rr)) / np.median(rr)
    assert f["rr_cv"] == pytest.approx(rr.std() / rr.mean())
    assert f["log_mean_rr"] == pytest.approx(np.log(rr.mean()))
    assert f["drr_median"] == pytest.approx(np.median(d))
    assert f["drr_q25"] == pytest.approx(np.percentile(d, 25))
    assert f["share_drr_gt_10pct"] == pytest.approx(np.mean(d > 0.1))
    assert f["rr_autocorr"] == pytest.approx(np.corrcoef(rr[1:], rr[:-1])[0, 1])
    assert f["p_wave_share"] == 1.0 and f["pr_sd_s"] == pytest.approx(0.0, abs=1e-12)
    assert f["beats_per_s"] == pytest.approx(len(r_ms) / 30.0)


def test_a_regular_rhythm_without_p_waves_is_regular_and_p_less():
    f = ecg_rhythm_features(_record(), _beats(np.arange(500, 29000, 800.0), p=False))
    assert f["rr_cv"] == pytest.approx(0.0, abs=1e-9) and f["drr_p90"] == pytest.approx(0.0, abs=1e-9)
    assert f["share_drr_lt_3pct"] == 1.0 and f["p_wave_share"] == 0.0 and np.isnan(f["pr_sd_s"])


def test_too_few_beats_give_nan_not_a_guess():
    f = ecg_rhythm_features(_record(), _beats(np.array([500.0, 1300, 2100, 2900]), p=True))
    assert all(np.isnan(v) for v in f.values())


def test_sample_entropy_matches_a_brute_force_count():
    rng = np.random.default_rng(3)
    x = 0.8 + 0.1 * rng.normal(size=40)
    r, n = 0.03, len(x)

    def matches(m):  # pairs of length-m templates among the first n - 1 starts, within r (Chebyshev)
        t = [x[i:i + m] for i in range(n - 1)]
        return sum(np.max(np.abs(t[i] - t[j])) <= r for i in range(len(t)) for j in range(i + 1, len(t))
                   if len(t[i]) == m and len(t[j]) == m)

    assert _sample_entropy(x, r) == pytest.approx(-np.log(matches(2) / matches(1)))
    # counting in segments: exact when one segment holds the series, within-segment pairs otherwise
    assert _sample_entropy(x, r, segment=39) == _sample_entropy(x, r)
    assert _sample_entropy(x, r, segment=20) != _sample_entropy(x, r)


def test_sample_entropy_of_a_holter_length_series_stays_bounded():
    """10^5 RR intervals (a day of beats) in segments: no 10^5 x 10^5 matrix, and the estimate agrees with
    the one from its first segment to within sampling noise."""
    x = 0.8 + 0.1 * np.random.default_rng(4).normal(size=100_000)
    assert _sample_entropy(x, 0.03) == pytest.approx(_sample_entropy(x[:2049], 0.03), abs=0.05)


def test_not_a_record_is_a_clear_error():
    with pytest.raises(TypeError, match="needs a Record"):
        ecg_rhythm_features(np.zeros(3000))


@pytest.fixture(scope="module")
def cinc_by_class(data_dir):
    from ecgscope.datasets import open_dataset

    ds = open_dataset("cinc2017", data_dir)
    cls = ds.index["cinc_class"].to_numpy(str)
    return ds, {c: np.flatnonzero(cls == c)[:15] for c in ("N", "A")}


def test_af_strips_are_irregular_and_p_less_compared_with_normal_rhythm(cinc_by_class):
    ds, rows = cinc_by_class
    f = {c: [ecg_rhythm_features(ds.load(int(i))) for i in idx] for c, idx in rows.items()}

    def med(c, k):
        return float(np.nanmedian([x[k] for x in f[c]]))

    assert med("A", "drr_median") > 3 * med("N", "drr_median")
    assert med("A", "drr_q25") > 3 * med("N", "drr_q25")
    assert med("A", "p_wave_share") < med("N", "p_wave_share") - 0.3
    assert med("A", "atrial_template_corr") < med("N", "atrial_template_corr") - 0.2
    assert med("A", "cosen") > med("N", "cosen") + 0.5


def test_a_delineation_given_is_used_as_is(cinc_by_class):
    ds, rows = cinc_by_class
    rec = ds.load(int(rows["A"][0]))
    mine = ecg_delineate(rec)
    a, b = ecg_rhythm_features(rec, mine), ecg_rhythm_features(rec)
    assert np.allclose([a[k] for k in RHYTHM_FEATURES], [b[k] for k in RHYTHM_FEATURES], equal_nan=True)
