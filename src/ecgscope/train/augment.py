"""Augmentations that make a training window look as if another cart or wearable had recorded it.

Each augmentation is one small function ``f(x, fs, rng) -> x'`` over a window ``x`` of shape
(n_leads, n_samples), float32, at ``fs`` Hz, drawing every random choice from ``rng``: the same
generator state gives the same output, and the input is never modified.  Amplitudes are relative to
each lead's own standard deviation, so they mean the same on millivolts and on the z-scored windows of
the training cache; a flat (all-zero) lead, e.g. one dropped by the contract, stays flat.

What each one imitates:

``resample_roundtrip``  another device's sampling rate: down to a random rate (polyphase, with its
                        anti-aliasing filter) and back, so content above that rate's Nyquist is lost
``gain_polarity``       another amplifier's gain per lead, and a single lead worn the other way round
``baseline_wander``     respiration and electrode motion: slow sinusoids of 0.05-0.5 Hz
``mains_hum``           50 or 60 Hz interference (and its third harmonic, where the rate allows)
``emg_noise``           muscle noise: white noise band-limited to 20-150 Hz
``band_limit``          a wearable's front end: a band-pass such as 0.5-40 Hz
``lead_dropout``        electrodes that came off: random leads zeroed, at least one kept
``any_one_lead``        a single-lead device that is not lead I: one random live lead copied into every
                        channel (the duplicated-single-lead input of DESIGN §2)

:class:`DeviceAugment` composes them, each applied with its own probability; :data:`AUGMENT_RECIPES`
names the compositions a training run can ask for (``ecgscope train --augment devices``).

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(12, 2500)).astype(np.float32)
>>> y = DeviceAugment.recipe("devices")(x, 500.0, np.random.default_rng(1))
>>> y.shape, y.dtype
((12, 2500), dtype('float32'))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ecgscope.signal.filters import bandpass
from ecgscope.signal.resample import resample_array

Augmentation = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]

_MIN_RATE_HZ = 100.0  # below this even the QRS (energy to ~40 Hz) is lost: no device of interest records it


def _lead_scale(x: np.ndarray) -> np.ndarray:
    """(n_leads, 1) standard deviation of each lead (0 for a flat lead, so additive noise skips it)."""
    return x.std(axis=-1, keepdims=True).astype(np.float32)


def _check(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"an augmentation takes a (n_leads, n_samples) window, got shape {x.shape}")
    return x.astype(np.float32, copy=False)


def resample_roundtrip(x: np.ndarray, fs: float, rng: np.random.Generator,
                       rates: tuple[float, ...] = (128.0, 200.0, 250.0, 300.0, 360.0)) -> np.ndarray:
    """Down to a random rate from ``rates`` (those below ``fs`` and at least 100 Hz) and back to ``fs``.

    >>> import numpy as np
    >>> resample_roundtrip(np.zeros((1, 2500), np.float32), 500.0, np.random.default_rng(0)).shape
    (1, 2500)
    """
    x = _check(x)
    lower = [r for r in rates if _MIN_RATE_HZ <= r < fs]
    if not lower:
        return x.copy()
    rate = float(lower[int(rng.integers(len(lower)))])
    y = resample_array(resample_array(x, fs, rate), rate, fs)
    return _fit_length(y, x.shape[-1])


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    if y.shape[-1] >= n:
        return np.ascontiguousarray(y[..., :n], dtype=np.float32)
    return np.pad(y, ((0, 0), (0, n - y.shape[-1])), mode="edge").astype(np.float32)


def gain_polarity(x: np.ndarray, fs: float, rng: np.random.Generator, gain: tuple[float, float] = (0.6, 1.6),
                  p_flip: float = 0.1) -> np.ndarray:
    """Each lead times a log-uniform gain in ``gain``; each flipped in sign with probability ``p_flip``."""
    x = _check(x)
    lo, hi = np.log(gain[0]), np.log(gain[1])
    g = np.exp(rng.uniform(lo, hi, size=(x.shape[0], 1)))
    sign = np.where(rng.random((x.shape[0], 1)) < p_flip, -1.0, 1.0)
    return (x * (g * sign)).astype(np.float32)


def baseline_wander(x: np.ndarray, fs: float, rng: np.random.Generator, amplitude: tuple[float, float] = (0.1, 1.0),
                    freq_hz: tuple[float, float] = (0.05, 0.5), n_components: int = 2) -> np.ndarray:
    """Add ``n_components`` slow sinusoids per lead, each of amplitude ``amplitude`` x the lead's SD."""
    x = _check(x)
    t = np.arange(x.shape[-1], dtype=np.float64) / fs
    f = rng.uniform(*freq_hz, size=(x.shape[0], n_components, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(x.shape[0], n_components, 1))
    amp = rng.uniform(*amplitude, size=(x.shape[0], n_components, 1)) / n_components
    wander = (amp * np.sin(2 * np.pi * f * t + phase)).sum(axis=1)  # (L, T)
    return (x + wander * _lead_scale(x)).astype(np.float32)


def mains_hum(x: np.ndarray, fs: float, rng: np.random.Generator, amplitude: tuple[float, float] = (0.02, 0.2),
              mains_hz: tuple[float, ...] = (50.0, 60.0)) -> np.ndarray:
    """Add a random mains frequency (and its third harmonic at a third of the amplitude, below Nyquist)."""
    x = _check(x)
    f0 = float(mains_hz[int(rng.integers(len(mains_hz)))])
    if f0 >= 0.45 * fs:  # a device sampling this slowly filters the mains out before the ADC
        return x.copy()
    t = np.arange(x.shape[-1], dtype=np.float64) / fs
    amp = rng.uniform(*amplitude, size=(x.shape[0], 1))
    phase = rng.uniform(0, 2 * np.pi, size=(x.shape[0], 1))
    hum = np.sin(2 * np.pi * f0 * t + phase)
    if 3 * f0 < 0.45 * fs:
        hum = hum + np.sin(2 * np.pi * 3 * f0 * t + 3 * phase) / 3
    return (x + amp * hum * _lead_scale(x)).astype(np.float32)


def emg_noise(x: np.ndarray, fs: float, rng: np.random.Generator,
              snr_db: tuple[float, float] = (10.0, 30.0), band_hz: tuple[float, float] = (20.0, 150.0)) -> np.ndarray:
    """Add white noise band-limited to ``band_hz`` at a signal-to-noise ratio drawn from ``snr_db``."""
    x = _check(x)
    noise = rng.standard_normal(x.shape).astype(np.float32)
    noise = bandpass(noise, fs, band_hz[0], min(band_hz[1], 0.45 * fs))
    noise /= np.maximum(noise.std(axis=-1, keepdims=True), 1e-12)
    snr = rng.uniform(*snr_db, size=(x.shape[0], 1))
    return (x + noise * _lead_scale(x) * 10 ** (-snr / 20)).astype(np.float32)


def band_limit(x: np.ndarray, fs: float, rng: np.random.Generator, low_hz: tuple[float, float] = (0.3, 1.0),
               high_hz: tuple[float, float] = (25.0, 45.0)) -> np.ndarray:
    """Zero-phase Butterworth band-pass with edges drawn from ``low_hz`` and ``high_hz`` (a wearable's band)."""
    x = _check(x)
    low, high = rng.uniform(*low_hz), rng.uniform(*high_hz)
    return bandpass(x, fs, float(low), float(high))


def _live(x: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.any(x != 0, axis=-1))


def lead_dropout(x: np.ndarray, fs: float, rng: np.random.Generator, p: float = 0.2) -> np.ndarray:
    """Zero each live lead with probability ``p``, keeping at least one live lead."""
    x = _check(x)
    live = _live(x)
    if len(live) <= 1:
        return x.copy()
    drop = live[rng.random(len(live)) < p]
    if len(drop) == len(live):
        drop = np.delete(drop, int(rng.integers(len(drop))))
    y = x.copy()
    y[drop] = 0.0
    return y


def any_one_lead(x: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
    """One random live lead copied into every channel (a flat window stays flat)."""
    x = _check(x)
    live = _live(x)
    if not len(live):
        return x.copy()
    k = int(live[int(rng.integers(len(live)))])
    return np.repeat(x[k : k + 1], x.shape[0], axis=0)


AUGMENTATIONS: dict[str, Augmentation] = {
    "resample_roundtrip": resample_roundtrip,
    "gain_polarity": gain_polarity,
    "baseline_wander": baseline_wander,
    "mains_hum": mains_hum,
    "emg_noise": emg_noise,
    "band_limit": band_limit,
    "lead_dropout": lead_dropout,
    "any_one_lead": any_one_lead,
}


@dataclass(frozen=True)
class DeviceAugment:
    """Apply each augmentation with its probability, in the order of :data:`AUGMENTATIONS`.

    The lead choices come first (``any_one_lead`` before ``lead_dropout``), so the noise and filters act
    on the leads that remain; the order is fixed so a seed reproduces a window.
    """

    probabilities: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.probabilities) - set(AUGMENTATIONS)
        if unknown:
            raise ValueError(f"unknown augmentations {sorted(unknown)}; valid: {', '.join(AUGMENTATIONS)}")
        bad = {k: p for k, p in self.probabilities.items() if not 0.0 <= p <= 1.0}
        if bad:
            raise ValueError(f"augmentation probabilities must lie in [0, 1], got {bad}")

    _ORDER = ("any_one_lead", "lead_dropout", "resample_roundtrip", "band_limit", "gain_polarity",
              "baseline_wander", "mains_hum", "emg_noise")

    def __call__(self, x: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
        x = _check(x)
        for name in self._ORDER:
            p = self.probabilities.get(name, 0.0)
            if p > 0 and rng.random() < p:
                x = AUGMENTATIONS[name](x, fs, rng)
        return x

    @property
    def active(self) -> bool:
        return any(p > 0 for p in self.probabilities.values())

    @classmethod
    def recipe(cls, name: str) -> DeviceAugment:
        """A named composition from :data:`AUGMENT_RECIPES`."""
        if name not in AUGMENT_RECIPES:
            raise ValueError(f"unknown augmentation recipe {name!r}; valid recipes: {', '.join(AUGMENT_RECIPES)}")
        return cls(dict(AUGMENT_RECIPES[name]))


AUGMENT_RECIPES: dict[str, dict[str, float]] = {
    "none": {},
    # another cart: rate, gain, wander, hum, muscle noise, an electrode off now and then
    "devices": {"resample_roundtrip": 0.3, "gain_polarity": 0.5, "baseline_wander": 0.3, "mains_hum": 0.2,
                "emg_noise": 0.3, "band_limit": 0.2, "lead_dropout": 0.1},
    # a wearable: the same, band-limited more often, and any one lead instead of lead I
    "wearable": {"any_one_lead": 0.5, "resample_roundtrip": 0.3, "gain_polarity": 0.5, "baseline_wander": 0.4,
                 "mains_hum": 0.2, "emg_noise": 0.4, "band_limit": 0.4},
}


def recipe_names() -> list[str]:
    return list(AUGMENT_RECIPES)


__all__ = ["AUGMENTATIONS", "AUGMENT_RECIPES", "DeviceAugment", "recipe_names", *AUGMENTATIONS]
