"""Philips Sierra / PageWriter XML (``<restingecgdata>``, document versions 1.03-1.04.02), XLI-compressed or not.

The leads are in ``parsedwaveforms`` (base64; ``compressmethod="XLI"`` or uncompressed int16), the rate in
``signalcharacteristics/samplingrate`` and the amplitude step in ``signalresolution`` (1.03) or ``resolution``
(1.04) in µV.

XLI (Philips' compression) is, per lead, a chunk of ``[int32 size][int16 unused][int16 start]`` followed by
``size`` bytes of LZW with 10-bit codes (MSB first, a 256-entry byte alphabet, no clear code); the decoded
bytes hold the high bytes of n int16 values, then their low bytes; the values are second differences,
undone with ``z = 2 y - x - last`` where ``last`` is the previous raw value minus 64 and ``start`` seeds it.
The limb leads III, aVR, aVL, aVF are stored as residuals from leads I and II and are reconstructed the way
the carts store them.  (The format is documented by the open-source ``sierraecg`` readers; this is an
independent implementation, checked against the values their tests publish.)

Files may be UTF-8 or UTF-16; XML entity declarations and external references are refused (``unsafe_xml``).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np

from ecgscope.errors import RecordFormatError
from ecgscope.io._source import source_bytes
from ecgscope.io._xml import parse_xml
from ecgscope.record import Record

VERSIONS = ("1.03", "1.04", "1.04.01", "1.04.02")
_STD12 = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_LZW_BITS = 10


def lzw_decode(data: bytes, bits: int = _LZW_BITS) -> bytes:
    """LZW with fixed ``bits``-wide codes, MSB first, codes 0-255 the bytes, no clear code (XLI)."""
    max_code = (1 << bits) - 2
    table: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
    next_code = 256
    out = bytearray()
    prev = b""
    acc, n_acc, pos = 0, 0, 0
    while True:
        while n_acc < bits and pos < len(data):
            acc = (acc << 8) | data[pos]
            pos += 1
            n_acc += 8
        if n_acc < bits:
            break
        n_acc -= bits
        code = (acc >> n_acc) & ((1 << bits) - 1)
        acc &= (1 << n_acc) - 1
        if code > max_code:
            break
        if code in table:
            entry = table[code]
        elif code == next_code and prev:  # the KwKwK case
            entry = prev + prev[:1]
        else:
            raise ValueError(f"LZW code {code} before it was defined")
        if prev and next_code <= max_code:
            table[next_code] = prev + entry[:1]
            next_code += 1
        out += entry
        prev = entry
    return bytes(out)


def _undo_deltas(values: np.ndarray, start: int) -> np.ndarray:
    v = values.astype(np.int64)
    x, y, last = int(v[0]), int(v[1]), int(start)
    for i in range(2, len(v)):
        z = 2 * y - x - last
        last = int(v[i]) - 64
        v[i] = z
        x, y = y, z
    return v.astype(np.int16, casting="unsafe")  # the carts' 16-bit arithmetic wraps


def xli_decode(data: bytes, n_leads: int, source: str) -> list[np.ndarray]:
    """The int16 samples of each lead of an XLI stream."""
    leads, offset = [], 0
    while offset < len(data) and len(leads) < n_leads:
        if offset + 8 > len(data):
            raise RecordFormatError(f"XLI chunk header of lead {len(leads) + 1} is cut short", source=source,
                                    code="truncated")
        size = int.from_bytes(data[offset:offset + 4], "little", signed=True)
        start = int.from_bytes(data[offset + 6:offset + 8], "little", signed=True)
        offset += 8
        if size < 0 or offset + size > len(data):
            raise RecordFormatError(f"XLI chunk of lead {len(leads) + 1} says {size} bytes; {len(data) - offset} "
                                    "remain", source=source, code="truncated")
        try:
            raw = lzw_decode(data[offset:offset + size])
        except ValueError as exc:
            raise RecordFormatError(f"XLI data of lead {len(leads) + 1} are corrupt ({exc})", source=source,
                                    code="bad_philips") from None
        offset += size
        if len(raw) % 2:
            raw += b"\0"
        half = len(raw) // 2
        b = np.frombuffer(raw, np.uint8).astype(np.int32)
        values = ((b[:half] << 8) | b[half:]).astype(np.uint16).view(np.int16)
        if len(values) < 2:
            raise RecordFormatError(f"XLI lead {len(leads) + 1} decodes to {len(values)} samples", source=source,
                                    code="empty_signal")
        leads.append(_undo_deltas(values, start))
    return leads


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _find(el: Element, name: str) -> Element | None:
    """The first descendant with local name ``name`` (Philips files come with and without a namespace)."""
    return next((e for e in el.iter() if _local(e.tag) == name), None)


def _text(el: Element, name: str) -> str:
    found = _find(el, name)
    return (found.text or "").strip() if found is not None else ""


def read_philips(data: str | Path | bytes, *, source: str | None = None) -> Record:
    """Read a Philips Sierra / PageWriter XML file into a :class:`Record` (module docstring)."""
    raw, source = source_bytes(data, source, "<philips>")
    root = parse_xml(raw, source, allow_doctype=True)
    if _local(root.tag) != "restingecgdata":
        raise RecordFormatError(f"root element is <{_local(root.tag)}>; a Philips ECG is <restingecgdata>",
                                source=source, code="bad_philips")
    doc_type, version = _text(root, "documenttype"), _text(root, "documentversion")
    if doc_type not in ("SierraECG", "PhilipsECG") or version not in VERSIONS:
        raise RecordFormatError(f"{doc_type or 'unknown'} document version {version or '?'} is not supported "
                                f"(SierraECG / PhilipsECG {', '.join(VERSIONS)})", source=source, code="bad_philips")
    signal_info = _find(root, "signalcharacteristics")
    if signal_info is None:
        raise RecordFormatError("no <signalcharacteristics> (sampling rate and resolution)", source=source,
                                code="bad_philips")
    try:
        fs = float(_text(signal_info, "samplingrate"))
        # 1.03: <signalresolution>; 1.04: <resolution> (uV per unit)
        step_uv = float(_text(signal_info, "signalresolution") or _text(signal_info, "resolution") or "nan")
    except ValueError:
        raise RecordFormatError("samplingrate or signalresolution is not a number", source=source,
                                code="bad_philips") from None
    if not 50 <= fs <= 10_000 or not np.isfinite(step_uv) or step_uv <= 0:
        raise RecordFormatError(f"sampling rate {fs:g} Hz or resolution {step_uv:g} uV is not plausible",
                                source=source, code="bad_philips")
    wave = _find(root, "parsedwaveforms")
    if wave is None or not (wave.text or "").strip():
        raise RecordFormatError("no waveform: <parsedwaveforms> is missing or empty", source=source,
                                code="empty_signal")
    labels = (wave.get("leadlabels") or "").split()
    n_leads = int(wave.get("numberofleads") or len(labels) or int(_text(root, "numberchannelsallocated") or 12))
    labels = labels[:n_leads] if labels else list(_STD12[:n_leads])
    if wave.get("dataencoding", "Base64") != "Base64":
        raise RecordFormatError(f"waveform encoding {wave.get('dataencoding')!r} is not supported (Base64)",
                                source=source, code="bad_philips")
    try:
        payload = base64.b64decode("".join(wave.text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise RecordFormatError("parsedwaveforms is not valid base64", source=source, code="bad_philips") from None
    method = wave.get("compressmethod") or wave.get("compression") or "Uncompressed"
    duration_ms = float(wave.get("durationperchannel") or "0")
    n = int(round(duration_ms * fs / 1000))
    if method == "XLI":
        leads = xli_decode(payload, n_leads, source)
    elif method == "Uncompressed":
        allv = np.frombuffer(payload[: len(payload) // 2 * 2], "<i2")
        leads = [allv[k * n:(k + 1) * n] for k in range(n_leads)]
    else:
        raise RecordFormatError(f"waveform compression {method!r} is not supported (XLI, Uncompressed)",
                                source=source, code="bad_philips")
    if len(leads) != n_leads or any(len(x) < n for x in leads) or n < 1:
        raise RecordFormatError(f"{len(leads)} leads decoded for {n_leads} declared, or fewer than the {n} samples "
                                f"of {duration_ms:g} ms each", source=source, code="truncated")
    x = {lab: leads[k][:n].astype(np.int64) for k, lab in enumerate(labels)}
    if all(lab in x for lab in _STD12[:6]):  # limb leads stored as residuals (the carts' integer arithmetic)
        i, ii = x["I"], x["II"]
        x["III"] = ii - i - x["III"]
        x["aVR"] = -x["aVR"] - np.floor_divide(i + ii, 2)
        x["aVL"] = np.floor_divide(i - x["III"], 2) - x["aVL"]
        x["aVF"] = np.floor_divide(ii + x["III"], 2) - x["aVF"]
    meta: dict[str, Any] = {"document": f"{doc_type} {version}", "compression": method}
    pid = _text(root, "patientid")
    measurements = {}
    for key in ("heartrate", "ventrate", "print", "qrsdur", "qtint", "qtcb", "pfrontaxis", "qrsfrontaxis",
                "tfrontaxis"):
        val = _text(root, key)
        if val:
            measurements[key] = val
    if measurements:
        meta["cart_measurements"] = measurements
    statements = [(e.text or "").strip() for e in root.iter() if _local(e.tag) in ("leftstatement", "rightstatement")
                  and (e.text or "").strip()]
    if statements:
        meta["cart_statements"] = statements[:200]
    signal = np.stack([x[lab] for lab in labels]).astype(np.float64) * step_uv / 1000.0
    return Record(signal, fs=fs, leads=tuple(labels), patient_id=pid or None, source_format="philips",
                  units="uV", gain=tuple(1.0 / step_uv for _ in labels), metadata=meta)
