"""DICOM waveform ECGs (PACS): 12-lead ECG, General ECG and Ambulatory ECG Waveform Storage, read with pydicom.

A DICOM ECG holds one or more *multiplex groups* (``WaveformSequence`` items: RHYTHM, MEDIAN BEAT, ...), each
with its channels (leads, named by a coded ``ChannelSourceSequence``), sampling frequency, and interleaved
16-bit samples that ``ChannelSensitivity x CorrectionFactor + Baseline`` turn into the sensitivity's unit
(µV or mV, ``ChannelSensitivityUnitsSequence``).  The reader takes the rhythm group (the full-length
waveforms; the median beats are not a record), patient id, acquisition time and device into the record, and
the cart's annotations (``WaveformAnnotationSequence``: measurements and statements) into
``metadata["cart_annotations"]``.

The writer emits a 12-lead ECG Waveform Storage object when the record is the 12 standard leads at
200-1000 Hz for at most 16 s (the IOD's limits), a General ECG Waveform Storage object otherwise, with the
samples at the record's own ADC step when they fit 16 bits, so a record read from an integer format reads
back sample for sample; pydicom alone reads what it writes (``Dataset.waveform_array``).

>>> from ecgscope.io import load_record, save_record                         # doctest: +SKIP
>>> rec = load_record("tests/fixtures/dicom/waveform_ecg.dcm")               # doctest: +SKIP
>>> rec.fs, rec.n_leads, rec.metadata["device"]["manufacturer"]              # doctest: +SKIP
(1000.0, 12, 'Mortara Instrument, Inc.')
"""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.errors import RecordFormatError
from ecgscope.io._source import source_bytes
from ecgscope.leads import STANDARD_LEADS
from ecgscope.record import Record, units_to_mv_factor

ECG_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.3": "Ambulatory ECG",
}
TWELVE_LEAD_SOP, GENERAL_SOP = "1.2.840.10008.5.1.4.1.1.9.1.1", "1.2.840.10008.5.1.4.1.1.9.1.2"
# SCP-ECG lead codes (DICOM CID 3001, coding scheme SCPECG)
SCPECG_CODES = {"I": "5.6.3-9-1", "II": "5.6.3-9-2", "V1": "5.6.3-9-3", "V2": "5.6.3-9-4", "V3": "5.6.3-9-5",
                "V4": "5.6.3-9-6", "V5": "5.6.3-9-7", "V6": "5.6.3-9-8", "III": "5.6.3-9-61", "aVR": "5.6.3-9-62",
                "aVL": "5.6.3-9-63", "aVF": "5.6.3-9-64"}
_UNITS = {"uv": "uV", "mv": "mV", "v": "V", "nv": "nV"}
_MAX_ANNOTATIONS = 500


def is_dicom(head: bytes) -> bool:
    """A DICOM Part 10 file: 128-byte preamble then ``DICM``."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def _lead_name(channel: Any) -> str:
    src = channel.get("ChannelSourceSequence")
    item = src[0] if src else None
    meaning = str(item.get("CodeMeaning", "")) if item is not None else ""
    code = str(item.get("CodeValue", "")) if item is not None else ""
    by_code = {v: k for k, v in SCPECG_CODES.items()}
    if code in by_code:
        return by_code[code]
    return re.sub(r"\s*\(.*?\)\s*", "", meaning).strip() or code or "unknown"


def _units(channel: Any, source: str, name: str) -> str:
    seq = channel.get("ChannelSensitivityUnitsSequence")
    code = str(seq[0].get("CodeValue", "")) if seq else ""
    unit = _UNITS.get(code.lower())
    if unit is None:
        raise RecordFormatError(f"lead {name}: unknown sensitivity unit {code or '(none)'!r}", source=source,
                                code="bad_units")
    return unit


def _annotations(ds: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ann in ds.get("WaveformAnnotationSequence", []) or []:
        names = ann.get("ConceptNameCodeSequence")
        name = str(names[0].get("CodeMeaning", "")) if names else ""
        item: dict[str, Any] = {"code": name} if name else {}
        if "NumericValue" in ann:
            item["value"] = str(ann.NumericValue)
            units = ann.get("MeasurementUnitsCodeSequence")
            if units:
                item["unit"] = str(units[0].get("CodeValue", ""))
        elif "UnformattedTextValue" in ann:
            item["value"] = str(ann.UnformattedTextValue)[:500]
        elif "ConceptCodeSequence" in ann and ann.ConceptCodeSequence:
            item["value"] = str(ann.ConceptCodeSequence[0].get("CodeMeaning", ""))
        if "value" in item:
            out.append(item)
        if len(out) >= _MAX_ANNOTATIONS:
            break
    return out


def read_dicom(data: str | Path | bytes, *, source: str | None = None) -> Record:
    """Read a DICOM ECG waveform object (module docstring)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    raw, source = source_bytes(data, source, "<dicom>")
    try:
        ds = pydicom.dcmread(BytesIO(raw))
    except InvalidDicomError:
        raise RecordFormatError("not a DICOM file (no DICM preamble)", source=source, code="bad_dicom") from None
    except Exception as exc:  # truncated or corrupt element structure
        raise RecordFormatError(f"unreadable DICOM ({type(exc).__name__}: {exc})", source=source,
                                code="bad_dicom") from None
    sop = str(ds.get("SOPClassUID", ""))
    groups = ds.get("WaveformSequence")
    if not groups:
        what = ECG_SOP_CLASSES.get(sop) or (ds.SOPClassUID.name if "SOPClassUID" in ds else "an unknown object")
        raise RecordFormatError(f"DICOM object ({what}) has no waveform module (WaveformSequence)", source=source,
                                code="empty_signal")
    labels = [str(g.get("MultiplexGroupLabel", "")).upper() for g in groups]
    index = next((i for i, lab in enumerate(labels) if lab == "RHYTHM"),
                 next((i for i, lab in enumerate(labels) if "MEDIAN" not in lab), 0))
    g = groups[index]
    try:
        n_ch, n_s = int(g.NumberOfWaveformChannels), int(g.NumberOfWaveformSamples)
        fs = float(g.SamplingFrequency)
        bits = int(g.WaveformBitsAllocated)
        raw_len = len(g.WaveformData)
    except (AttributeError, ValueError, TypeError) as exc:
        raise RecordFormatError(f"multiplex group {index} lacks a required attribute ({exc})", source=source,
                                code="bad_dicom") from None
    channels = g.get("ChannelDefinitionSequence") or []
    if n_ch < 1 or n_s < 1 or len(channels) != n_ch:
        raise RecordFormatError(f"multiplex group {index} declares {n_ch} channels x {n_s} samples with "
                                f"{len(channels)} channel definitions", source=source, code="bad_dicom")
    if raw_len < n_ch * n_s * bits // 8:
        raise RecordFormatError(f"waveform data hold {raw_len} bytes; {n_ch} channels x {n_s} samples x {bits} bits "
                                f"need {n_ch * n_s * bits // 8}", source=source, code="truncated")
    if not 1 <= fs <= 100_000:
        raise RecordFormatError(f"sampling frequency {fs:g} Hz is not plausible", source=source, code="bad_dicom")
    try:
        values = ds.waveform_array(index)  # (n_s, n_ch) in each channel's sensitivity unit
    except Exception as exc:
        raise RecordFormatError(f"waveform data of group {index} cannot be decoded ({exc})", source=source,
                                code="bad_dicom") from None
    leads, signal, units, gains = [], [], set(), []
    for k, ch in enumerate(channels):
        name = _lead_name(ch)
        unit = _units(ch, source, name)
        sens = float(ch.get("ChannelSensitivity", 1) or 1) * float(ch.get("ChannelSensitivityCorrectionFactor", 1) or 1)
        leads.append(name)
        signal.append(values[:, k] * units_to_mv_factor(unit))
        units.add(unit)
        gains.append(1.0 / sens if sens else float("nan"))
    meta: dict[str, Any] = {"sop_class": ECG_SOP_CLASSES.get(sop, sop), "multiplex_group": labels[index] or None}
    when = ds.get("AcquisitionDateTime") or (str(ds.get("AcquisitionDate", "")) + str(ds.get("AcquisitionTime", "")))
    if when:
        meta["acquired"] = str(when)
    if ds.get("Manufacturer") or ds.get("ManufacturerModelName"):
        meta["device"] = {"manufacturer": str(ds.get("Manufacturer", "")) or None,
                          "model": str(ds.get("ManufacturerModelName", "")) or None}
    ann = _annotations(ds)
    if ann:
        meta["cart_annotations"] = ann
    sex = str(ds.get("PatientSex", "")).upper()
    return Record(np.stack(signal), fs=fs, leads=tuple(leads), patient_id=str(ds.get("PatientID", "")) or None,
                  record_id=str(ds.get("SOPInstanceUID", "")) or None, sex=sex if sex in ("M", "F") else None,
                  source_format="dicom", units=units.pop() if len(units) == 1 else "mixed", gain=tuple(gains),
                  metadata=meta)


def _steps_uv(record: Record) -> np.ndarray:
    """µV per stored unit per lead: the record's own step when its samples fit 16 bits at it."""
    own = record.gain_per_mv()
    peak_uv = np.abs(record.signal.astype(np.float64)).max(axis=1) * 1000.0
    steps = []
    for i in range(record.n_leads):
        step = 1000.0 / own[i] if own and own[i] and np.isfinite(own[i]) else 1.0
        while peak_uv[i] / step > 32767:
            step *= 2
        steps.append(step)
    return np.array(steps)


def write_dicom(record: Record, path: str | Path) -> Path:
    """Write ``record`` as a DICOM ECG waveform object (module docstring)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    twelve = (tuple(record.leads) == tuple(STANDARD_LEADS) and 200 <= record.fs <= 1000
              and record.duration_s <= 16)
    sop = TWELVE_LEAD_SOP if twelve else GENERAL_SOP
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop, meta.MediaStorageSOPInstanceUID
    ds.Modality = "ECG"
    ds.PatientID = str(record.patient_id or "")
    ds.PatientName = ""
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Manufacturer = "ecgscope"
    if isinstance(record.metadata.get("acquired"), str) and record.metadata["acquired"].isdigit():
        ds.AcquisitionDateTime = record.metadata["acquired"][:14]
    steps = _steps_uv(record)
    digits = np.rint(record.signal.astype(np.float64) * 1000.0 / steps[:, None]).astype(np.int16)  # (C, T)
    group = Dataset()
    group.MultiplexGroupTimeOffset = "0"
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = record.n_leads
    group.NumberOfWaveformSamples = record.n_samples
    group.SamplingFrequency = f"{record.fs:.10g}"
    group.MultiplexGroupLabel = "RHYTHM"
    chans = []
    for lead, step in zip(record.leads, steps, strict=True):
        ch = Dataset()
        src = Dataset()
        src.CodeValue = SCPECG_CODES.get(lead, lead[:16])
        src.CodingSchemeDesignator = "SCPECG" if lead in SCPECG_CODES else "99ECGSCOPE"
        src.CodeMeaning = f"Lead {lead}"
        ch.ChannelSourceSequence = Sequence([src])
        ch.ChannelSensitivity = f"{step:.10g}"
        unit = Dataset()
        unit.CodeValue, unit.CodingSchemeDesignator, unit.CodeMeaning = "uV", "UCUM", "microvolt"
        ch.ChannelSensitivityUnitsSequence = Sequence([unit])
        ch.ChannelSensitivityCorrectionFactor = "1"
        ch.ChannelBaseline = "0"
        ch.WaveformBitsStored = 16
        chans.append(ch)
    group.ChannelDefinitionSequence = Sequence(chans)
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    group.WaveformData = digits.T.astype("<i2").tobytes()  # interleaved: sample by sample, channels in order
    ds.WaveformSequence = Sequence([group])
    ds.save_as(p, enforce_file_format=True)
    return p
