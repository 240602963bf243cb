"""GE MUSE XML (``<RestingECG>``): the export of GE's ECG management system and its MAC carts.

Layout::

    RestingECG / PatientDemographics (PatientID, Gender, PatientAge)
               / TestDemographics (AcquisitionDate MM-DD-YYYY, AcquisitionTime, AcquisitionDevice)
               / RestingECGMeasurements (VentricularRate, PRInterval, QRSDuration, QTInterval, axes, ...)
               / Diagnosis / DiagnosisStatement / StmtText
               / Waveform (WaveformType Median | Rhythm, SampleBase, SampleExponent)
                   / LeadData (LeadID, LeadAmplitudeUnitsPerBit, LeadAmplitudeUnits, LeadByteCountTotal,
                               LeadSampleCountTotal, LeadDataCRC32, WaveFormData: base64 of int16 LE)

The reader takes the Rhythm waveform (not the median beats).  MUSE stores the eight independent leads (I, II,
V1-V6); the four other limb leads are derived by Einthoven's and Goldberger's relations (III = II - I,
aVR = -(I + II) / 2, aVL = I - II / 2, aVF = II - I / 2) and listed in ``metadata["derived_leads"]``.  The
cart's measurements go to ``metadata["cart_measurements"]`` and its statements to
``metadata["cart_statements"]``, to show beside ecgscope's.

Real MUSE files declare ``<!DOCTYPE RestingECG SYSTEM "restecg.dtd">``: the declaration is allowed (never
fetched), while entity declarations and external references are refused (``unsafe_xml``).  Every lead's byte
count, sample count and CRC-32 are checked before its samples are used.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np

from ecgscope.errors import RecordFormatError
from ecgscope.io._source import source_bytes
from ecgscope.io._xml import parse_xml
from ecgscope.leads import STANDARD_LEADS, derive_limb_leads
from ecgscope.record import Record

_UNITS = {"MICROVOLTS": 0.001, "MILLIVOLTS": 1.0}
_MEASUREMENTS = ("VentricularRate", "AtrialRate", "PRInterval", "QRSDuration", "QTInterval", "QTCorrected", "PAxis",
                 "RAxis", "TAxis", "QRSCount", "QOnset", "QOffset", "POnset", "POffset", "TOffset")


def _int(el: Element, tag: str, what: str, source: str) -> int:
    text = (el.findtext(tag) or "").strip()
    try:
        return int(text)
    except ValueError:
        raise RecordFormatError(f"{what}: <{tag}> is not an integer ({text[:20]!r})", source=source,
                                code="bad_muse") from None


def _lead(ld: Element, source: str) -> tuple[str, np.ndarray, float]:
    """(lead name, samples in mV, digits per mV) of one LeadData, its counts and CRC checked."""
    name = (ld.findtext("LeadID") or "").strip() or "unknown"
    what = f"lead {name}"
    n_bytes = _int(ld, "LeadByteCountTotal", what, source)
    n_samples = _int(ld, "LeadSampleCountTotal", what, source)
    size = int((ld.findtext("LeadSampleSize") or "2").strip() or 2)
    if size != 2 or n_bytes != 2 * n_samples or n_samples < 1:
        raise RecordFormatError(f"{what}: {n_samples} samples of {size} bytes do not make {n_bytes} bytes",
                                source=source, code="bad_muse")
    text = ld.findtext("WaveFormData") or ""
    if len(text) > 4 * n_bytes:  # base64 of n bytes is ~4n/3 characters plus line breaks
        raise RecordFormatError(f"{what}: {len(text)} characters of data for {n_bytes} bytes", source=source,
                                code="bad_muse")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise RecordFormatError(f"{what}: WaveFormData is not valid base64", source=source, code="bad_muse") from None
    if len(data) != n_bytes:
        raise RecordFormatError(f"{what}: WaveFormData holds {len(data)} bytes; LeadByteCountTotal says {n_bytes}",
                                source=source, code="truncated")
    crc = (ld.findtext("LeadDataCRC32") or "").strip()
    if crc and crc.isdigit() and zlib.crc32(data) != int(crc):
        raise RecordFormatError(f"{what}: CRC-32 of the samples is {zlib.crc32(data)}, the file says {crc} "
                                "(corrupted data)", source=source, code="bad_checksum")
    unit = (ld.findtext("LeadAmplitudeUnits") or "MICROVOLTS").strip().upper()
    if unit not in _UNITS:
        raise RecordFormatError(f"{what}: unknown amplitude unit {unit!r}", source=source, code="bad_units")
    try:
        per_bit = float(ld.findtext("LeadAmplitudeUnitsPerBit") or "")
    except ValueError:
        raise RecordFormatError(f"{what}: LeadAmplitudeUnitsPerBit is not a number", source=source,
                                code="bad_muse") from None
    if not np.isfinite(per_bit) or per_bit <= 0:
        raise RecordFormatError(f"{what}: LeadAmplitudeUnitsPerBit {per_bit:g} is not positive", source=source,
                                code="bad_muse")
    digits = np.frombuffer(data, "<i2").astype(np.float64)
    mv_per_bit = per_bit * _UNITS[unit]
    return name, digits * mv_per_bit, 1.0 / mv_per_bit


def read_muse(data: str | Path | bytes, *, source: str | None = None) -> Record:
    """Read a GE MUSE XML export into a :class:`Record` (module docstring)."""
    raw, source = source_bytes(data, source, "<muse>")
    root = parse_xml(raw, source, allow_doctype=True)
    if root.tag != "RestingECG":
        raise RecordFormatError(f"root element is <{root.tag}>; a GE MUSE export is <RestingECG>", source=source,
                                code="bad_muse")
    waves = root.findall("Waveform")
    rhythm = next((w for w in waves if (w.findtext("WaveformType") or "").strip().lower() == "rhythm"), None)
    if rhythm is None:
        raise RecordFormatError(f"no Rhythm waveform (found {[w.findtext('WaveformType') for w in waves] or 'none'})",
                                source=source, code="empty_signal")
    base = _int(rhythm, "SampleBase", "the rhythm waveform", source)
    exponent = int((rhythm.findtext("SampleExponent") or "0").strip() or 0)
    fs = base * 10.0 ** exponent
    if not 50 <= fs <= 10_000:
        raise RecordFormatError(f"sampling rate {fs:g} Hz (SampleBase {base}, SampleExponent {exponent}) is not "
                                "plausible", source=source, code="bad_muse")
    leads: dict[str, np.ndarray] = {}
    gains: dict[str, float] = {}
    for ld in rhythm.findall("LeadData"):
        name, x, gain = _lead(ld, source)
        if name in leads:
            raise RecordFormatError(f"lead {name} appears twice in the rhythm waveform", source=source, code="bad_muse")
        leads[name], gains[name] = x, gain
    if not leads:
        raise RecordFormatError("the rhythm waveform has no LeadData", source=source, code="empty_signal")
    lengths = {len(v) for v in leads.values()}
    if len(lengths) > 1:
        raise RecordFormatError(f"leads differ in length: {sorted(lengths)} samples", source=source, code="bad_muse")
    derived = derive_limb_leads(leads)
    names = [n for n in STANDARD_LEADS if n in leads] + [n for n in leads if n not in STANDARD_LEADS]
    meta: dict[str, Any] = {}
    if derived:
        meta["derived_leads"] = derived
    demo, test = root.find("PatientDemographics"), root.find("TestDemographics")
    if test is not None:
        date, time_ = (test.findtext("AcquisitionDate") or "").strip(), (test.findtext("AcquisitionTime") or "").strip()
        if len(date) == 10 and date[2] == "-" and date[5] == "-":  # MM-DD-YYYY
            meta["acquired"] = date[6:] + date[:2] + date[3:5] + time_.replace(":", "")
        if test.findtext("AcquisitionDevice"):
            meta["device"] = {"manufacturer": "GE Healthcare", "model": test.findtext("AcquisitionDevice").strip()}
    meas = root.find("RestingECGMeasurements")
    if meas is not None:
        found = {k: meas.findtext(k).strip() for k in _MEASUREMENTS if (meas.findtext(k) or "").strip()}
        if found:
            meta["cart_measurements"] = found
    statements = [t.text.strip() for t in root.findall("Diagnosis/DiagnosisStatement/StmtText") if (t.text or "").strip()]
    if statements:
        meta["cart_statements"] = statements
    sex = {"MALE": "M", "FEMALE": "F"}.get(((demo.findtext("Gender") if demo is not None else "") or "").upper())
    age = None
    if demo is not None and (demo.findtext("AgeUnits") or "").upper() == "YEARS":
        try:
            age = float(demo.findtext("PatientAge") or "")
        except ValueError:
            age = None
    pid = (demo.findtext("PatientID") or "").strip() if demo is not None else ""
    return Record(np.stack([leads[n] for n in names]), fs=fs, leads=tuple(names), patient_id=pid or None,
                  age=age, sex=sex, source_format="muse", units="mV",
                  gain=tuple(gains.get(n, float("nan")) for n in names), metadata=meta)
