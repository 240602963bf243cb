"""HL7 aECG: the annotated ECG of HL7 v3 (``PORT_MT020001``), the format the FDA takes for clinical-trial ECGs.

An aECG is XML in the ``urn:hl7-org:v3`` namespace::

    AnnotatedECG / component / series (code RHYTHM) / component / sequenceSet /
        component / sequence (code TIME_ABSOLUTE | TIME_RELATIVE, value GLIST: head + increment)
        component / sequence (code MDC_ECG_LEAD_I ..., value SLIST_PQ: origin, scale, digits)

A lead's samples are ``origin + scale * digit`` in the unit of ``scale`` (µV in most files); the
sampling rate is 1 / ``increment``.  The reader takes the rhythm series (the full-length waveforms, not the
representative beats), the subject id, the acquisition time and the device into the record, and the
cart's own global annotations (``annotationSet``: intervals, axes, statements) into
``metadata["cart_annotations"]`` so they can be shown beside ecgscope's.

These files come from other systems: the XML is parsed by defusedxml with DTDs, entity declarations and
external references refused (an XML bomb or an XXE attempt is a :class:`RecordFormatError`, ``unsafe_xml``),
and every count is checked against what the file holds.

The writer emits one rhythm series with integer digits at the record's own resolution (one ADC step when
the record has a gain, else 0.01 µV), so a record read from an integer format (WFDB, EDF, aECG)
reads back sample for sample.

>>> from ecgscope.io import load_record, save_record                       # doctest: +SKIP
>>> rec = load_record("tests/fixtures/aecg/fda_subject1_0.xml")            # doctest: +SKIP
>>> rec.fs, rec.leads[:3], rec.metadata["device"]["model"]                 # doctest: +SKIP
(500.0, ('I', 'II', 'III'), 'ELI250')
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np

from ecgscope.errors import RecordFormatError
from ecgscope.io._source import source_bytes
from ecgscope.io._xml import parse_xml, xml_root_name
from ecgscope.record import Record, units_to_mv_factor

NS = "urn:hl7-org:v3"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_Q = "{" + NS + "}"
_LEAD_PREFIX = "MDC_ECG_LEAD_"
_TIME_CODES = ("TIME_ABSOLUTE", "TIME_RELATIVE")
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_MAX_ANNOTATIONS = 500


def is_aecg(head: bytes) -> bool:
    """Whether the first bytes of a file are an HL7 aECG (root ``AnnotatedECG``)."""
    return xml_root_name(head) == "AnnotatedECG"


def _child(el: Element, *path: str) -> Element | None:
    for name in path:
        el = el.find(_Q + name) if el is not None else None
    return el


def _float(value: str | None, what: str, source: str) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RecordFormatError(f"{what} is not a number: {value!r}", source=source, code="bad_aecg") from None
    if not np.isfinite(v):
        raise RecordFormatError(f"{what} is not finite: {value!r}", source=source, code="bad_aecg")
    return v


def _code(el: Element) -> str:
    c = _child(el, "code")
    return (c.get("code") or "") if c is not None else ""


def _sampling_interval_s(seq: Element, source: str) -> float:
    inc = _child(seq, "value", "increment")
    if inc is None:
        raise RecordFormatError("the time sequence has no <increment> (the sampling interval)", source=source,
                                code="bad_aecg")
    unit = (inc.get("unit") or "s").strip()
    if unit not in _TIME_UNITS:
        raise RecordFormatError(f"sampling interval unit {unit!r} is not one of {', '.join(_TIME_UNITS)}",
                                source=source, code="bad_aecg")
    step = _float(inc.get("value"), "the sampling interval", source) * _TIME_UNITS[unit]
    if step <= 0:
        raise RecordFormatError(f"sampling interval {step:g} s is not positive", source=source, code="bad_aecg")
    return step


def _lead_samples(seq: Element, name: str, source: str) -> tuple[np.ndarray, str, float]:
    """(samples in the scale's unit, that unit, digits per unit) of one SLIST_PQ sequence."""
    value = _child(seq, "value")
    vtype = value.get(f"{{{_XSI}}}type", "") if value is not None else ""
    if value is None or vtype.split(":")[-1] != "SLIST_PQ":
        raise RecordFormatError(f"lead {name}: samples must be an SLIST_PQ (origin, scale, digits); got "
                                f"{vtype or 'nothing'}", source=source, code="bad_aecg")
    origin, scale, digits = _child(value, "origin"), _child(value, "scale"), _child(value, "digits")
    if scale is None or digits is None:
        raise RecordFormatError(f"lead {name}: SLIST_PQ without <scale> or <digits>", source=source, code="bad_aecg")
    unit = (scale.get("unit") or "uV").strip()
    try:
        units_to_mv_factor(unit)
    except Exception:
        raise RecordFormatError(f"lead {name}: unknown amplitude unit {unit!r}", source=source,
                                code="bad_units") from None
    o_unit = (origin.get("unit") or unit).strip() if origin is not None else unit
    if o_unit != unit:
        raise RecordFormatError(f"lead {name}: origin in {o_unit} and scale in {unit}", source=source,
                                code="bad_units")
    step = _float(scale.get("value"), f"lead {name}'s scale", source)
    if step == 0:
        raise RecordFormatError(f"lead {name}: scale is 0", source=source, code="bad_aecg")
    offset = _float(origin.get("value"), f"lead {name}'s origin", source) if origin is not None else 0.0
    text = (digits.text or "").split()
    if not text:
        raise RecordFormatError(f"lead {name} has no samples (empty <digits>)", source=source, code="empty_signal")
    try:
        d = np.asarray(text, dtype=np.float64)
    except ValueError:
        bad = next(t for t in text if not re.fullmatch(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?", t))
        raise RecordFormatError(f"lead {name} has a non-numeric sample {bad[:20]!r}", source=source,
                                code="non_numeric") from None
    if not np.isfinite(d).all():
        raise RecordFormatError(f"lead {name} has a non-finite sample", source=source, code="non_numeric")
    return offset + step * d, unit, 1.0 / step


def _rhythm_sets(root: Element) -> list[tuple[Element, Element]]:
    """(series, sequenceSet) pairs, rhythm series first (derived / representative beats after)."""
    pairs = []
    for comp in root.findall(_Q + "component"):
        series = _child(comp, "series")
        if series is None:
            continue
        for c in series.findall(_Q + "component"):
            ss = _child(c, "sequenceSet")
            if ss is not None:
                pairs.append((series, ss))
    return sorted(pairs, key=lambda p: _code(p[0]) != "RHYTHM")


def _annotations(series: Element) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ann in series.iter(_Q + "annotation"):
        code = _code(ann)
        value = _child(ann, "value")
        if not code or value is None:
            continue
        item: dict[str, Any] = {"code": code}
        if value.get("value") is not None:
            item["value"] = value.get("value")
            if value.get("unit"):
                item["unit"] = value.get("unit")
        elif value.get("code"):
            item["value"] = value.get("code")
        elif (value.text or "").strip():
            item["value"] = value.text.strip()[:500]
        else:
            continue
        out.append(item)
        if len(out) >= _MAX_ANNOTATIONS:
            break
    return out


def read_aecg(data: str | Path | bytes, *, source: str | None = None) -> Record:
    """Read an HL7 aECG file (or its bytes) into a :class:`Record` (module docstring)."""
    raw, source = source_bytes(data, source, "<aecg>")
    root = parse_xml(raw, source)
    if root.tag != _Q + "AnnotatedECG":
        ns, _, local = root.tag.rpartition("}")
        raise RecordFormatError(
            f"root element is <{local}> in namespace {ns.lstrip('{') or '(none)'}; an HL7 aECG is <AnnotatedECG> in "
            f"{NS}", source=source, code="bad_aecg")
    sets = _rhythm_sets(root)
    if not sets:
        raise RecordFormatError("no waveform: the aECG has no series with a sequenceSet", source=source,
                                code="empty_signal")
    series, sset = sets[0]
    step, leads, samples, units, gains = None, [], [], set(), []
    for comp in sset.findall(_Q + "component"):
        seq = _child(comp, "sequence")
        if seq is None:
            continue
        code = _code(seq)
        if code in _TIME_CODES:
            step = _sampling_interval_s(seq, source)
        elif code.startswith(_LEAD_PREFIX):
            name = code[len(_LEAD_PREFIX):]
            x, unit, gain = _lead_samples(seq, name, source)
            leads.append(name)
            samples.append(x * units_to_mv_factor(unit))
            units.add(unit)
            gains.append(gain)  # digits per unit of the scale (Record.gain: adu per source unit)
    if step is None:
        raise RecordFormatError("the rhythm series has no TIME_ABSOLUTE / TIME_RELATIVE sequence: no sampling rate",
                                source=source, code="bad_aecg")
    if not leads:
        raise RecordFormatError("the rhythm series has no MDC_ECG_LEAD_* sequence", source=source,
                                code="empty_signal")
    lengths = {len(s) for s in samples}
    if len(lengths) > 1:
        raise RecordFormatError(f"leads of one sequence set differ in length: {sorted(lengths)} samples",
                                source=source, code="bad_aecg")
    meta: dict[str, Any] = {"series": _code(series) or None}
    t = _child(root, "effectiveTime")
    when = None
    if t is not None:
        for tag in ("center", "low"):
            el = _child(t, tag)
            if el is not None and el.get("value"):
                when = el.get("value")
                break
    if when:
        meta["acquired"] = when
    model = series.find(f".//{_Q}manufacturedSeriesDevice/{_Q}manufacturerModelName")
    maker = series.find(f".//{_Q}manufacturerOrganization/{_Q}name")
    if model is not None or maker is not None:
        meta["device"] = {"model": (model.text or "").strip() if model is not None else None,
                          "manufacturer": (maker.text or "").strip() if maker is not None else None}
    ann = _annotations(series)
    if ann:
        meta["cart_annotations"] = ann
    subject = root.find(f".//{_Q}trialSubject/{_Q}id")
    rid = _child(root, "id")
    return Record(np.stack(samples), fs=round(1.0 / step, 6), leads=tuple(leads),
                  record_id=(rid.get("extension") or rid.get("root")) if rid is not None else None,
                  patient_id=subject.get("extension") if subject is not None else None,
                  source_format="aecg", units=units.pop() if len(units) == 1 else "mixed",
                  gain=tuple(gains), metadata=meta)


_AECG_LEAD = {"aVR": "AVR", "aVL": "AVL", "aVF": "AVF"}


def _resolution_uv(record: Record, i: int) -> float:
    """µV per digit for lead ``i``: the record's own ADC step when it has one (its gain is per unit of the source's
    ``units``), else 0.01 µV."""
    own = record.gain_per_mv()
    g = own[i] if own and i < len(own) else None
    if g and np.isfinite(g) and g > 0:
        return 1000.0 / g
    return 0.01


def write_aecg(record: Record, path: str | Path) -> Path:
    """Write ``record`` as an HL7 aECG (one rhythm series; integer digits at the record's resolution)."""
    from xml.sax.saxutils import quoteattr

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    when = record.metadata.get("acquired") if isinstance(record.metadata.get("acquired"), str) else None
    when = when or datetime(2000, 1, 1).strftime("%Y%m%d%H%M%S")
    rid = record.record_id or p.stem
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<AnnotatedECG xmlns="{NS}" xmlns:xsi="{_XSI}" type="Observation">',
        f'  <id root="{uuid.uuid5(uuid.NAMESPACE_URL, "ecgscope:" + rid)}" extension={quoteattr(rid)}/>',
        '  <code code="93000" codeSystem="2.16.840.1.113883.6.12" codeSystemName="CPT-4"/>',
        f'  <effectiveTime><center value="{when}"/></effectiveTime>',
    ]
    if record.patient_id:
        parts += ["  <componentOf><timepointEvent><componentOf><subjectAssignment><subject><trialSubject>",
                  f"    <id extension={quoteattr(str(record.patient_id))}/>",
                  "  </trialSubject></subject></subjectAssignment></componentOf></timepointEvent></componentOf>"]
    parts += [
        "  <component><series>",
        '    <code code="RHYTHM" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode"/>',
        "    <component><sequenceSet>",
        '      <component><sequence><code code="TIME_ABSOLUTE" codeSystem="2.16.840.1.113883.5.4"/>',
        f'        <value xsi:type="GLIST_TS"><head value="{when}"/><increment value="{1.0 / record.fs!r}" unit="s"/>'
        "</value></sequence></component>",
    ]
    sig = record.signal.astype(np.float64)
    for i, lead in enumerate(record.leads):
        res = _resolution_uv(record, i)
        digits = np.rint(sig[i] * 1000.0 / res).astype(np.int64)
        code = _LEAD_PREFIX + _AECG_LEAD.get(lead, lead)
        parts += [f'      <component><sequence><code code={quoteattr(code)} codeSystem="2.16.840.1.113883.6.24"/>',
                  f'        <value xsi:type="SLIST_PQ"><origin value="0" unit="uV"/><scale value="{res!r}" unit="uV"/>',
                  "        <digits>" + " ".join(map(str, digits.tolist())) + "</digits></value></sequence></component>"]
    parts += ["    </sequenceSet></component>", "  </series></component>", "</AnnotatedECG>", ""]
    p.write_text("\n".join(parts), encoding="utf-8")
    return p
