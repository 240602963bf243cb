"""Preprocessing: property-based tests on shapes, dtype, NaN-freedom and idempotence, plus real records."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ecgscope.errors import ContractError
from ecgscope.leads import STANDARD_LEADS
from ecgscope.record import Record
from ecgscope.signal.contract import InputContract, Preprocessor
from ecgscope.signal.filters import bandpass, notch, remove_baseline
from ecgscope.signal.lead_layout import duplicate_single_lead, to_lead_layout
from ecgscope.signal.normalize import zscore
from ecgscope.signal.resample import resample_array
from ecgscope.signal.windows import make_windows

RATES = st.sampled_from([100, 128, 200, 250, 257, 300, 360, 500, 1000])
finite = st.floats(-5, 5, allow_nan=False, allow_infinity=False, width=32)
settings.register_profile("ecg", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ecg")


def signals(min_leads=1, max_leads=12, min_n=64, max_n=3000):
    return st.integers(min_leads, max_leads).flatmap(
        lambda L: st.integers(min_n, max_n).flatmap(lambda n: arrays(np.float32, (L, n), elements=finite))
    )


@given(x=signals(), fs_in=RATES, fs_out=RATES, method=st.sampled_from(["polyphase", "linear"]))
def test_resample_shape_dtype_finite(x, fs_in, fs_out, method):
    y = resample_array(x, fs_in, fs_out, method)
    assert y.shape == (x.shape[0], int(round(x.shape[1] * fs_out / fs_in)))
    assert y.dtype == np.float32 and np.isfinite(y).all()


@pytest.mark.parametrize("fs_in", [500.0, 360.0, 257.0, 1000.0])
@pytest.mark.parametrize("n", [1, 7, 999, 5000, 5003])
def test_integer_decimation_matches_scipy(fs_in, n):
    # the BLAS polyphase path (an integer rate ratio down) gives scipy's resample_poly output, borders included
    from scipy.signal import resample_poly

    from ecgscope.signal.resample import _polyphase_fir

    x = np.random.default_rng(n).standard_normal((3, n)).astype(np.float32) * 1000
    for down in (2, 3, 5, 10):
        y = resample_array(x, fs_in, fs_in / down)
        ref = resample_poly(x, 1, down, axis=-1, window=_polyphase_fir(1, down))[..., :y.shape[-1]]
        assert y.shape[-1] == int(round(n / down))
        np.testing.assert_allclose(y[..., :ref.shape[-1]], ref, rtol=0, atol=2e-3)


@given(x=signals(), fs=RATES)
def test_resample_identity(x, fs):
    np.testing.assert_array_equal(resample_array(x, fs, fs), x)


@given(x=signals(min_n=200), fs=RATES)
def test_filters_keep_shape_and_are_finite(x, fs):
    for y in (bandpass(x, fs, 0.5, 40.0), notch(x, fs, 50.0), remove_baseline(x, fs),
              remove_baseline(x, fs, method="median")):
        assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()


def test_zscore_keeps_a_small_variation_on_a_large_offset():
    """Found by Hypothesis: one 5.0 sample on a flat 4.862345 line (float32); float32 centring lost ~0.4 %."""
    x = np.full((1, 870), 4.862345, dtype=np.float32)
    x[0, 0] = 5.0
    z = zscore(x)
    np.testing.assert_allclose(zscore(z), z, atol=1e-5)
    assert abs(float(z.mean(dtype=np.float64))) < 1e-6


@given(x=signals(), mode=st.sampled_from(["per_lead", "global"]))
def test_zscore_properties_and_idempotence(x, mode):
    z = zscore(x, mode)
    assert z.shape == x.shape and z.dtype == np.float32 and np.isfinite(z).all()
    np.testing.assert_allclose(zscore(z, mode), z, atol=1e-4)
    if mode == "per_lead":
        live = x.std(axis=1, dtype=np.float64) > 1e-6
        np.testing.assert_allclose(z[live].mean(axis=1), 0, atol=1e-4)
        np.testing.assert_allclose(z[live].std(axis=1), 1, atol=1e-3)
        assert (z[~live] == 0).all()


@given(x=signals(max_n=6000), size=st.integers(10, 3000))
def test_windows_count_and_content(x, size):
    if x.shape[1] < size:
        with pytest.raises(ContractError, match="shorter than one model window"):
            make_windows(x, size)
        w, starts = make_windows(x, size, pad_short=True)
        assert w.shape == (1, x.shape[0], size) and (w[0, :, x.shape[1]:] == 0).all()
        return
    w, starts = make_windows(x, size)
    assert w.shape == (x.shape[1] // size, x.shape[0], size)
    np.testing.assert_array_equal(w[-1], x[:, starts[-1] : starts[-1] + size])


@given(
    n_leads=st.integers(1, 12),
    fs=RATES,
    seconds=st.floats(2.0, 25.0),
    norm=st.sampled_from(["per_lead", "global"]),
    band=st.sampled_from([None, (0.67, 40.0)]),
)
def test_preprocessor_contract_properties(n_leads, fs, seconds, norm, band):
    rng = np.random.default_rng(n_leads)
    n = int(seconds * fs)
    rec = Record(rng.normal(0, 0.3, (n_leads, n)), fs=fs, leads=STANDARD_LEADS[:n_leads])
    contract = InputContract(fs=250, window_samples=500, normalization=norm, bandpass=band, missing_leads="zeros")
    if seconds * 250 < 500:
        with pytest.raises(ContractError):
            Preprocessor(contract)(rec)
        return
    out = Preprocessor(contract)(rec)
    assert out.windows.shape == (int(round(n * 250 / fs)) // 500, 12, 500)
    assert out.windows.dtype == np.float32 and np.isfinite(out.windows).all()
    assert set(out.missing_leads) == set(STANDARD_LEADS[n_leads:])
    assert (out.windows[:, n_leads:] == 0).all()


def test_ecgfm_contract_on_real_record(ptbxl_record):
    out = Preprocessor(InputContract())(ptbxl_record)
    assert out.windows.shape == (2, 12, 2500) and out.starts_s.tolist() == [0.0, 5.0]
    whole = np.concatenate(list(out.windows), axis=1)
    np.testing.assert_allclose(whole.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(whole.std(axis=1), 1, atol=1e-3)


def test_stmem_contract_on_real_record(ptbxl_record):
    c = InputContract(fs=250, window_samples=2250, bandpass=(0.67, 40.0), normalization="global")
    out = Preprocessor(c)(ptbxl_record)
    assert out.windows.shape == (1, 12, 2250)
    assert abs(float(out.windows.mean())) < 0.05


def test_twelve_lead_model_refuses_single_lead_unless_allowed(data_dir):
    from ecgscope.io import load_record

    rec = load_record(data_dir / "cinc2017" / "A00006")
    with pytest.raises(ContractError, match="lacks leads"):
        Preprocessor(InputContract())(rec)
    out = Preprocessor(InputContract(), allow_single_lead=True)(rec)
    assert out.single_lead and out.source_lead == "I"
    assert out.windows.shape == (6, 12, 2500)
    np.testing.assert_array_equal(out.windows[:, 0], out.windows[:, 11])


def test_single_lead_contract_takes_lead_i_from_twelve(ptbxl_record):
    out = Preprocessor(InputContract(single_lead="I"))(ptbxl_record)
    assert out.single_lead and out.source_lead == "I"
    ref = Preprocessor(InputContract(leads=("I",)))(ptbxl_record.select_leads(["I"]))
    np.testing.assert_allclose(out.windows[:, 5], ref.windows[:, 0], atol=1e-6)
    native = Preprocessor(InputContract(single_lead="I", duplicate_single_lead=False))(ptbxl_record)
    assert native.windows.shape == (2, 1, 2500)


def test_lead_layout_and_duplication(ptbxl_record):
    reordered, missing = to_lead_layout(ptbxl_record.select_leads(["V6", "I", "II"]), ("I", "II", "V6"))
    assert reordered.leads == ("I", "II", "V6") and missing == ()
    with pytest.raises(ContractError, match=r"lacks leads \['V1'\]"):
        to_lead_layout(ptbxl_record.select_leads(["I"]), ("I", "V1"))
    dup = duplicate_single_lead(ptbxl_record, "II")
    assert dup.single_lead and dup.metadata["single_lead_source"] == "II" and dup.n_leads == 12


def test_contract_round_trips_through_dict():
    c = InputContract(fs=250, window_samples=2250, bandpass=(0.67, 40), normalization="global")
    assert InputContract.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="unknown input-contract fields"):
        InputContract.from_dict({"fs": 1, "bogus": 2})
    with pytest.raises(ValueError, match="valid: polyphase, linear"):
        InputContract(resample_method="cubic")
