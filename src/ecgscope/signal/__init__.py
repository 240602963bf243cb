"""Signal processing: preprocessing for models (resample, filters, lead layout, windows, normalisation,
the contract pipeline) and analysis (R peaks, PQRST delineation, median beat, measurements, HRV, quality)."""

from ecgscope.signal.delineate import DELINEATION_METHODS, FIDUCIALS, Delineation, ecg_delineate
from ecgscope.signal.hrv import ecg_hrv
from ecgscope.signal.measurements import MEASUREMENT_METHODS, QTC_FORMULAS, ecg_measurements
from ecgscope.signal.median_beat import MedianBeat, ecg_median_beat
from ecgscope.signal.peaks import PEAK_METHODS, ecg_peaks
from ecgscope.signal.quality import QualityReport, ecg_quality, lead_quality

__all__ = [
    "DELINEATION_METHODS", "FIDUCIALS", "MEASUREMENT_METHODS", "PEAK_METHODS", "QTC_FORMULAS", "Delineation",
    "MedianBeat", "QualityReport", "ecg_delineate", "ecg_hrv", "ecg_measurements", "ecg_median_beat", "ecg_peaks",
    "ecg_quality", "lead_quality",
]
