"""Evaluation: classification metrics with confidence intervals, fiducial/beat scoring, benchmark runners."""
