"""Device augmentations: shape, dtype, determinism, no mutation, and what each one does physically, on real
PTB-XL records."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.signal.filters import bandpass
from ecgscope.signal.peaks import ecg_peaks
from ecgscope.train.augment import (
    AUGMENT_RECIPES,
    AUGMENTATIONS,
    DeviceAugment,
    any_one_lead,
    band_limit,
    baseline_wander,
    emg_noise,
    gain_polarity,
    lead_dropout,
    mains_hum,
    resample_roundtrip,
)

FS = 500.0


@pytest.fixture(scope="module")
def window(ptbxl_record) -> np.ndarray:
    """5 s of a real 12-lead record, in mV."""
    return np.ascontiguousarray(ptbxl_record.signal[:, :2500], dtype=np.float32)


def _power_at(x: np.ndarray, fs: float, f: float) -> float:
    spec = np.abs(np.fft.rfft(x - x.mean())) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / fs)
    return float(spec[np.argmin(np.abs(freqs - f))])


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_shape_dtype_determinism_and_no_mutation(name, window):
    f = AUGMENTATIONS[name]
    before = window.copy()
    a = f(window, FS, np.random.default_rng(7))
    b = f(window, FS, np.random.default_rng(7))
    assert a.shape == window.shape and a.dtype == np.float32
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(window, before)  # the cache's window is read-only in training


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_a_different_seed_gives_another_draw(name, window):
    f = AUGMENTATIONS[name]
    outs = [f(window, FS, np.random.default_rng(s)) for s in range(6)]
    assert any(not np.array_equal(outs[0], o) for o in outs[1:])


def test_resample_roundtrip_keeps_the_qrs(window):
    lead_ii = window[1:2]
    before = ecg_peaks(lead_ii, FS)
    for seed in range(5):
        y = resample_roundtrip(lead_ii, FS, np.random.default_rng(seed))
        after = ecg_peaks(y, FS)
        assert len(after) == len(before)
        assert np.max(np.abs(after - before)) <= 2  # within 4 ms
        # R amplitudes kept within 10 % (the QRS has little energy above the lowest rate's Nyquist)
        np.testing.assert_allclose(y[0, after], lead_ii[0, before], rtol=0.10, atol=0.03)


def test_resample_roundtrip_loses_content_above_the_lower_rate():
    t = np.arange(2500) / FS
    tone = np.sin(2 * np.pi * 90 * t)[None].astype(np.float32)  # above 128 Hz's Nyquist, below 200 Hz's
    y = resample_roundtrip(tone, FS, np.random.default_rng(0), rates=(128.0,))
    assert np.abs(y[:, 100:-100]).max() < 0.05  # away from the filter's edges
    # a device at or above the record's rate changes nothing
    np.testing.assert_array_equal(resample_roundtrip(tone, 100.0, np.random.default_rng(0)), tone)


def test_gain_polarity_is_one_factor_per_lead(window):
    y = gain_polarity(window, FS, np.random.default_rng(3), p_flip=0.5)
    live = np.abs(window).max(axis=1) > 0
    ratio = y[live] / np.where(window[live] == 0, np.nan, window[live])
    factor = np.nanmedian(ratio, axis=1)
    np.testing.assert_allclose(y[live], factor[:, None] * window[live], rtol=1e-5, atol=1e-7)
    assert np.all((np.abs(factor) >= 0.6 - 1e-6) & (np.abs(factor) <= 1.6 + 1e-6))
    flips = gain_polarity(window, FS, np.random.default_rng(3), p_flip=1.0)
    assert np.all(np.sign(flips[live]) == -np.sign(window[live]))


def test_baseline_wander_is_slow_and_scaled(window):
    y = baseline_wander(window, FS, np.random.default_rng(0), amplitude=(1.0, 1.0))
    added = y - window
    fast = bandpass(added, FS, 2.0, None)
    assert np.all((fast**2).sum(axis=1) < 1e-3 * (added**2).sum(axis=1))  # nothing of it above 2 Hz
    assert np.all(np.abs(added).max(axis=1) <= window.std(axis=1) * 1.0001)  # amplitude <= 1 x the lead's SD
    assert np.all(np.abs(added).max(axis=1) > 0)
    doubled = baseline_wander(2 * window, FS, np.random.default_rng(0), amplitude=(1.0, 1.0)) - 2 * window
    np.testing.assert_allclose(doubled, 2 * added, rtol=1e-4, atol=1e-5)  # relative to the lead, unit-free


def test_mains_hum_adds_50_or_60_hz_and_skips_slow_devices(window):
    y = mains_hum(window, FS, np.random.default_rng(0))
    added = (y - window)[0]
    p50, p60 = _power_at(added, FS, 50.0), _power_at(added, FS, 60.0)
    assert max(p50, p60) > 100 * min(p50, p60)
    slow = window[:, ::5]  # 100 Hz: 50 Hz is at Nyquist, the device filtered it
    np.testing.assert_array_equal(mains_hum(slow, 100.0, np.random.default_rng(0), mains_hz=(50.0,)), slow)


def test_emg_noise_has_the_drawn_snr(window):
    y = emg_noise(window, FS, np.random.default_rng(0), snr_db=(20.0, 20.0))
    noise = y - window
    snr = 20 * np.log10(window.std(axis=1) / noise.std(axis=1))
    np.testing.assert_allclose(snr, 20.0, atol=0.5)
    slow = bandpass(noise, FS, None, 10.0)
    assert np.all((slow**2).sum(axis=1) < 0.02 * (noise**2).sum(axis=1))  # muscle band, not wander


def test_band_limit_removes_wander_and_hum(window):
    t = np.arange(window.shape[-1]) / FS
    dirty = window + (0.5 * np.sin(2 * np.pi * 0.1 * t) + 0.2 * np.sin(2 * np.pi * 60 * t)).astype(np.float32)
    y = band_limit(dirty, FS, np.random.default_rng(0), low_hz=(0.5, 0.5), high_hz=(40.0, 40.0))
    assert _power_at(y[0], FS, 60.0) < 0.01 * _power_at(dirty[0], FS, 60.0)
    # the QRS survives: same beats in lead II
    assert len(ecg_peaks(y[1:2], FS)) == len(ecg_peaks(window[1:2], FS))


def test_lead_dropout_keeps_at_least_one_live_lead(window):
    for seed in range(20):
        y = lead_dropout(window, FS, np.random.default_rng(seed), p=1.0)
        live = np.flatnonzero(np.any(y != 0, axis=1))
        assert len(live) == 1
        np.testing.assert_array_equal(y[live], window[live])
    one = window[:1]
    np.testing.assert_array_equal(lead_dropout(one, FS, np.random.default_rng(0), p=1.0), one)


def test_any_one_lead_copies_a_live_lead_everywhere(window):
    x = window.copy()
    x[3:] = 0.0  # only I, II, III are live
    for seed in range(10):
        y = any_one_lead(x, FS, np.random.default_rng(seed))
        assert np.all(y == y[0])
        assert any(np.array_equal(y[0], x[k]) for k in range(3))
    flat = np.zeros((12, 100), np.float32)
    np.testing.assert_array_equal(any_one_lead(flat, FS, np.random.default_rng(0)), flat)


def test_flat_leads_stay_flat_under_additive_noise(window):
    x = window.copy()
    x[5] = 0.0
    for f in (baseline_wander, mains_hum, emg_noise):
        assert np.all(f(x, FS, np.random.default_rng(0))[5] == 0)


def test_device_augment_recipes_and_errors(window):
    for name in AUGMENT_RECIPES:
        aug = DeviceAugment.recipe(name)
        y = aug(window, FS, np.random.default_rng(0))
        assert y.shape == window.shape
        np.testing.assert_array_equal(y, aug(window, FS, np.random.default_rng(0)))
    assert not DeviceAugment.recipe("none").active
    np.testing.assert_array_equal(DeviceAugment.recipe("none")(window, FS, np.random.default_rng(0)), window)
    assert set(DeviceAugment._ORDER) == set(AUGMENTATIONS)  # every augmentation has its place in the order
    with pytest.raises(ValueError, match="unknown augmentation recipe 'cart'.*devices"):
        DeviceAugment.recipe("cart")
    with pytest.raises(ValueError, match="unknown augmentations"):
        DeviceAugment({"reverb": 0.5})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        DeviceAugment({"emg_noise": 1.5})
    with pytest.raises(ValueError, match="n_leads, n_samples"):
        emg_noise(window[0], FS, np.random.default_rng(0))


def test_crop_dataset_applies_the_augmentation_reproducibly():
    from ecgscope.train.data import CropDataset

    class _Prepared:  # the two things CropDataset reads of a prepared set
        class contract:  # noqa: N801
            fs = FS

        def __len__(self):
            return 2

        def crop(self, k, rng):
            return np.random.default_rng(k).normal(size=(12, 500)).astype(np.float32)

    plain = CropDataset(_Prepared(), np.zeros((2, 1)), seed=0)
    aug = CropDataset(_Prepared(), np.zeros((2, 1)), seed=0, augment=DeviceAugment({"emg_noise": 1.0}))
    again = CropDataset(_Prepared(), np.zeros((2, 1)), seed=0, augment=DeviceAugment({"emg_noise": 1.0}))
    assert not np.array_equal(plain[0][0].numpy(), aug[0][0].numpy())
    np.testing.assert_array_equal(aug[0][0].numpy(), again[0][0].numpy())
    aug.set_epoch(1)
    assert not np.array_equal(aug[0][0].numpy(), again[0][0].numpy())  # another epoch, another draw
