"""Inferring units when a text format does not state them."""

from __future__ import annotations

import warnings

import numpy as np

from ecgscope.record import typical_amplitude


class UnitsInferredWarning(UserWarning):
    """The file did not say which units its samples are in; ecgscope guessed from their size."""


def infer_units(signal: np.ndarray, source: str) -> str:
    """Guess mV / µV / V from the typical amplitude of an ECG (0.1–5 mV) and warn that we guessed.

    The guess is recorded in the record's metadata by the caller, so a downstream result can say
    the units were inferred.
    """
    amp = typical_amplitude(signal)
    if amp > 30.0:
        units = "uV"
    elif 0 < amp < 0.01:
        units = "V"
    else:
        units = "mV"
    warnings.warn(
        UnitsInferredWarning(
            f"{source}: units not stated; assuming {units} from the signal amplitude "
            f"(typical peak {amp:.4g} in file units). State the units to silence this."
        ),
        stacklevel=3,
    )
    return units
