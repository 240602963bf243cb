"""Signal processing: preprocessing for models (resample, filters, lead layout, windows, normalisation,
the contract pipeline) and analysis (R peaks, PQRST delineation, measurements, HRV, quality)."""

from ecgscope.signal.delineate import DELINEATION_METHODS, FIDUCIALS, Delineation, ecg_delineate
from ecgscope.signal.hrv import ecg_hrv
from ecgscope.signal.measurements import QTC_FORMULAS, ecg_measurements
from ecgscope.signal.peaks import PEAK_METHODS, ecg_peaks
from ecgscope.signal.quality import QualityReport, ecg_quality, lead_quality

__all__ = [
    "DELINEATION_METHODS", "FIDUCIALS", "PEAK_METHODS", "QTC_FORMULAS", "Delineation", "QualityReport",
    "ecg_delineate", "ecg_hrv", "ecg_measurements", "ecg_peaks", "ecg_quality", "lead_quality",
]
