"""Signal processing: preprocessing for models (resample, filters, lead layout, windows, normalisation,
the contract pipeline) and analysis (quality, and later peaks, delineation, measurements, HRV)."""
