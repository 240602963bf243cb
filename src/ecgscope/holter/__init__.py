"""Long recordings read beat by beat: ``holter_analyze`` (and ``ecgscope holter``) streams a WFDB record of any
length in chunks and reports beats, the heart-rate trend, pauses, brady/tachycardia episodes, long-term HRV and
the spans it could not analyse, as versioned JSON (:data:`HOLTER_SCHEMA_VERSION`)."""

from ecgscope.holter.analysis import HOLTER_SCHEMA_VERSION, HolterOptions, HolterResult, holter_analyze

__all__ = ["HOLTER_SCHEMA_VERSION", "HolterOptions", "HolterResult", "holter_analyze"]
