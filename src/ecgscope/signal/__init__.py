"""Signal processing: preprocessing for models (resample, filters, lead layout, windows, normalisation,
the contract pipeline) and analysis (R peaks, HRV, quality; delineation and measurements)."""

from ecgscope.signal.hrv import ecg_hrv
from ecgscope.signal.peaks import PEAK_METHODS, ecg_peaks

__all__ = ["PEAK_METHODS", "ecg_hrv", "ecg_peaks"]
