"""SCP-ECG (EN 1064 / ISO 11073-91064): the binary format of many resting carts, ECG management systems and
some handheld recorders.

Layout (all integers little-endian)::

    CRC-CCITT of the rest (2) | record length (4) | sections...
    section  = CRC (2) | section id (2) | section length incl. this header (4) | version (1) | protocol (1)
               | reserved (6; "SCPECG" in section 0) | body
    0  pointers:  per section: id (2), length (4), 1-based byte offset (4)
    1  header:    tagged fields: tag (1), length (2), value; tag 255 ends (patient id, age, sex, device,
                  acquisition date/time, filters)
    2  Huffman:   number of tables (19999: the standard's default table), per table its code structures
    3  leads:     number of leads (1), flags (1: bit 0 reference-beat subtraction, bit 2 simultaneous),
                  per lead: first sample (4), last sample (4), lead code (1)
    4  QRS:       reference beat length ms (2), its fiducial sample (2), number of QRS (2), per QRS: type (2),
                  subtraction start (4), fiducial (4), subtraction end (4); then the protected areas
    5  ref beat:  amplitude multiplier nV (2), sample interval us (2), difference coding (1), reserved (1),
                  per lead byte count (2), data
    6  rhythm:    amplitude multiplier nV (2), sample interval us (2), difference coding (1: first,
                  2: second), bimodal (1), per lead byte count (2), data: Huffman coded, or int16 without section 2
    7  global measurements of the cart (P/QRS/T fiducials, axes, rates, QTc)
    8  the cart's interpretation statements

What is checked before anything is decoded: the record length against the bytes there are (a truncated
file says so), the file's and every section's CRC, every pointer against the record, every section's own id
and length against its pointer, every lead's sample count against its byte count (no decoder is asked for
more samples than its bytes can hold), Huffman tables for prefix-free codes.  The Huffman decoder refuses a
stream that ends inside a code or before the last sample.

Reference-beat subtraction (section 3 flag) is undone: the decoded reference beat of section 5 is added back
at every type-0 QRS of section 4, over that QRS's subtraction interval.  Bimodal compression (rhythm data
decimated between the protected QRS areas) is refused by name: no public sample here uses it to check a
decoder against.  Leads recorded one group after another (not simultaneously) are refused too: a Record is
simultaneous leads.

Lead codes are those of the standard's lead table (1 I, 2 II, 3-8 V1-V6, 61-64 III, aVR, aVL, aVF, ...).  When
a file stores the eight independent leads (I, II, V1-V6), the other limb leads are derived and listed in
``metadata["derived_leads"]``.  The cart's measurements go to ``metadata["cart_measurements"]`` and its
statements to ``metadata["cart_statements"]``, to show beside ecgscope's.
"""

from __future__ import annotations

import binascii
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.errors import RecordFormatError
from ecgscope.io._source import source_bytes
from ecgscope.leads import STANDARD_LEADS, derive_limb_leads
from ecgscope.record import Record

_HEADER = 16  # every section's header
_DEFAULT_TABLE = 19999
_NO_VALUE = (29999, 29998, 19999)  # "not computed", "rejected", "not available" in sections 7 and 10

_LEAD_CODES = (
    ["?", "I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "V7", "V2R", "V3R", "V4R", "V5R", "V6R", "V7R", "X", "Y", "Z",
     "CC5", "CM5", "LA", "RA", "LL", "fI", "fE", "fC", "fA", "fM", "fF", "fH"]
)
_LEAD_CODES_61 = ["III", "aVR", "aVL", "aVF", "-aVR", "V8", "V9", "V8R", "V9R", "D", "A", "J", "Defib", "Extern",
                  "A1", "A2", "A3", "A4"]

# The standard's default Huffman table: (prefix bits, total bits, base value, base code as transmitted, LSB first).
# 0 is "0", +-1 "100"/"101", ..., +-8 in 10 bits; "1111111110" + 8 bits and "1111111111" + 16 bits carry the value.
_DEFAULT_CODES = [(1, 1, 0, 0)] + [
    (n + 2, n + 2, v, c) for n in range(1, 9) for v, c in ((n, 2**n - 1), (-n, 2**n - 1 + 2 ** (n + 1)))
] + [(10, 18, 0, 511), (10, 26, 0, 1023)]

_MANUFACTURERS = {1: "Burdick", 2: "Cambridge", 3: "Compumed", 4: "Datamed", 5: "Fukuda", 6: "Hewlett-Packard",
                  7: "Marquette Electronics", 8: "Mortara Instruments", 9: "Nihon Kohden", 10: "Okin", 11: "Quinton",
                  12: "Siemens", 13: "Spacelabs", 14: "Telemed", 15: "Hellige", 16: "ESA-OTE", 17: "Schiller",
                  18: "Picker-Schwarzer", 19: "et medical devices", 20: "Zwönitz"}


def _lead_name(code: int) -> str:
    if 1 <= code < len(_LEAD_CODES):
        return _LEAD_CODES[code]
    if 61 <= code < 61 + len(_LEAD_CODES_61):
        return _LEAD_CODES_61[code - 61]
    return f"SCP lead {code}"


class _File:
    """The checked sections of one SCP-ECG record: ``body(n)`` is section n's body, or None when absent."""

    def __init__(self, raw: bytes, source: str):
        self.raw, self.source = raw, source
        if len(raw) < 6 + _HEADER:
            self.fail(f"{len(raw)} bytes is too short for an SCP-ECG record (no section 0)", "truncated")
        crc, size = struct.unpack_from("<HI", raw, 0)
        sid, slen = struct.unpack_from("<HI", raw, 8)
        if sid != 0 or slen < _HEADER:
            self.fail("bytes 6-21 are not an SCP-ECG pointer section (section 0)", "bad_scp")
        if size > len(raw):
            self.fail(f"truncated: the record says it is {size} bytes, the file has {len(raw)}", "truncated")
        if size < 6 + slen:
            self.fail(f"the record length {size} is shorter than its own pointer section", "bad_scp")
        raw = self.raw = raw[:size]
        if binascii.crc_hqx(raw[2:], 0xFFFF) != crc:
            self.fail("the CRC-CCITT of the record does not match its first two bytes (corrupted file)",
                      "bad_checksum")
        self.sections: dict[int, tuple[int, int]] = {}
        s0 = self._section_at(7, slen, 0)
        for off in range(0, len(s0) - 9, 10):
            num, length, index = struct.unpack_from("<HII", s0, off)
            if length == 0 or num == 0:
                continue
            if index < 1 or index - 1 + length > size or length < _HEADER:
                self.fail(f"section {num}: pointer to bytes {index}..{index + length - 1} lies outside the "
                          f"{size}-byte record", "bad_scp")
            self._section_at(index, length, num)
            self.sections[num] = (index - 1 + _HEADER, index - 1 + length)

    def fail(self, message: str, code: str = "bad_scp"):
        raise RecordFormatError(message, source=self.source, code=code)

    def _section_at(self, index: int, length: int, num: int) -> bytes:
        start = index - 1
        crc, sid, slen = struct.unpack_from("<HHI", self.raw, start)
        if sid != num or slen != length:
            self.fail(f"section {num}: the pointer says id {num} and {length} bytes; the section's own header says "
                      f"id {sid} and {slen} bytes", "bad_scp")
        if crc and binascii.crc_hqx(self.raw[start + 2:start + length], 0xFFFF) != crc:
            self.fail(f"section {num}: CRC-CCITT does not match (corrupted section)", "bad_checksum")
        return self.raw[start + _HEADER:start + length]

    def body(self, num: int) -> bytes | None:
        if num not in self.sections:
            return None
        a, b = self.sections[num]
        return self.raw[a:b]

    def unpack(self, fmt: str, body: bytes, offset: int, what: str) -> tuple:
        if offset + struct.calcsize(fmt) > len(body):
            self.fail(f"{what}: the section ends before its fields ({len(body)} bytes)", "truncated")
        return struct.unpack_from(fmt, body, offset)


class _Huffman:
    """Decoder of section 2's tables: one lookup table per Huffman table, indexed by the next ``width`` bits."""

    def __init__(self, tables: list[list[tuple[int, int, int, int, int]]], fail):
        self.fail = fail
        self.width = max(p for t in tables for p, *_ in t)
        self.extra = max([t - p for tab in tables for p, t, *_ in tab] + [0])
        self.luts = []
        for k, table in enumerate(tables, 1):
            lut = np.full((1 << self.width, 4), -1, dtype=np.int64)  # (prefix bits, extra bits, value, switch to)
            for prefix, total, mode, base_value, base_code in table:
                if not 1 <= prefix <= 16 or not prefix <= total <= prefix + 16:
                    fail(f"Huffman table {k}: a code of {prefix} prefix bits and {total} bits in all is not valid")
                pattern = int(f"{base_code & ((1 << prefix) - 1):0{prefix}b}"[::-1], 2)  # transmitted LSB first
                lo = pattern << (self.width - prefix)
                hi = lo + (1 << (self.width - prefix))
                if (lut[lo:hi, 0] >= 0).any():
                    fail(f"Huffman table {k}: its codes are not prefix-free (code {pattern:0{prefix}b} collides)")
                switch = base_value if mode == 0 else -1
                if mode == 0 and not 1 <= base_value <= len(tables):
                    fail(f"Huffman table {k}: a code switches to table {base_value}, which does not exist")
                lut[lo:hi] = (prefix, total - prefix, base_value, switch)
            self.luts.append([tuple(row) for row in lut.tolist()])  # plain tuples: the decode loop is Python

    @classmethod
    def from_section(cls, body: bytes | None, f: _File) -> _Huffman | None:
        if body is None:
            return None  # no section 2: the data are not Huffman coded
        (n_tables,) = f.unpack("<H", body, 0, "section 2")
        if n_tables == _DEFAULT_TABLE:
            return cls([[(p, t, 1, v, c) for p, t, v, c in _DEFAULT_CODES]], f.fail)
        if not 1 <= n_tables <= 256:
            f.fail(f"section 2 declares {n_tables} Huffman tables")
        tables, off = [], 2
        for _ in range(n_tables):
            (n_codes,) = f.unpack("<H", body, off, "section 2")
            off += 2
            if not 1 <= n_codes <= 1024 or off + 9 * n_codes > len(body):
                f.fail(f"section 2: a table of {n_codes} codes does not fit the section's {len(body)} bytes",
                       "truncated")
            tables.append([struct.unpack_from("<BBBhI", body, off + 9 * i) for i in range(n_codes)])
            off += 9 * n_codes
        return cls(tables, f.fail)

    def decode(self, data: bytes, n: int, what: str) -> np.ndarray:
        """The first ``n`` values of the bit stream ``data`` (bits MSB first)."""
        if n > 8 * len(data):  # every code is at least one bit
            self.fail(f"{what}: {len(data)} bytes cannot hold {n} Huffman-coded samples", "truncated")
        bits = np.unpackbits(np.frombuffer(data, np.uint8)).astype(np.int64)
        w = max(self.width, self.extra)
        padded = np.concatenate([bits, np.zeros(w, np.int64)])
        weights = 1 << np.arange(w - 1, -1, -1, dtype=np.int64)
        # the next w bits at every bit position, as an integer
        window = np.lib.stride_tricks.sliding_window_view(padded, w)[: len(bits) + 1] @ weights
        shift_code, shift_extra = w - self.width, w
        out = np.empty(n, np.int64)
        lut, total_bits, pos, i = self.luts[0], len(bits), 0, 0
        window_list = window.tolist()
        while i < n:
            if pos >= total_bits:
                self.fail(f"{what}: the Huffman stream ends after {i} of {n} samples", "truncated")
            prefix, extra, value, switch = lut[window_list[pos] >> shift_code]
            if prefix < 0:
                self.fail(f"{what}: bits at sample {i} match no code of the Huffman table")
            pos += prefix
            if switch >= 0:
                lut = self.luts[switch - 1]
                continue
            if extra:
                if pos + extra > total_bits:
                    self.fail(f"{what}: the Huffman stream ends inside sample {i}", "truncated")
                v = window_list[pos] >> (shift_extra - extra)
                value = v - (1 << extra) if v >> (extra - 1) else v
                pos += extra
            out[i] = value
            i += 1
        return out


def _undifference(d: np.ndarray, order: int, what: str, fail) -> np.ndarray:
    if order == 0:
        return d
    if order == 1:
        return np.cumsum(d)
    if order == 2:
        if len(d) < 2:
            return d
        first = d[1] - d[0]
        slopes = first + np.cumsum(d[2:])  # x[n] - x[n-1] for n >= 2
        return np.concatenate([d[:2], d[1] + np.cumsum(slopes)])
    fail(f"{what}: difference coding {order} is not one of 0 (none), 1 (first) or 2 (second differences)")
    raise AssertionError


def _lead_data(f: _File, body: bytes, n_leads: int, counts: list[int], huffman: _Huffman | None, what: str
               ) -> tuple[list[np.ndarray], int, int]:
    """Decoded integer samples per lead of section 5 or 6, with its amplitude multiplier (nV) and interval (us)."""
    avm, interval, diff, bimodal = f.unpack("<HHBB", body, 0, what)
    if what == "section 6" and bimodal:
        f.fail("section 6 uses bimodal compression (decimated rhythm data between QRS complexes), which ecgscope "
               "does not read", "unsupported_scp")
    if avm == 0 or interval == 0:
        f.fail(f"{what}: amplitude multiplier {avm} nV and sample interval {interval} us must be positive")
    lengths = f.unpack(f"<{n_leads}H", body, 6, what)
    off = 6 + 2 * n_leads
    if off + sum(lengths) > len(body):
        f.fail(f"{what}: its leads claim {sum(lengths)} bytes of data; the section holds {len(body) - off}",
               "truncated")
    leads = []
    for k, (length, n) in enumerate(zip(lengths, counts, strict=True)):
        chunk = body[off:off + length]
        off += length
        label = f"{what}, lead {k + 1}"
        if huffman is None:
            if length != 2 * n:
                f.fail(f"{label}: {n} uncompressed samples need {2 * n} bytes; the section gives {length}",
                       "truncated")
            d = np.frombuffer(chunk, "<i2").astype(np.int64)
        else:
            d = huffman.decode(chunk, n, label)
        leads.append(_undifference(d, diff, label, f.fail))
    return leads, avm, interval


def _add_reference_beats(f: _File, rhythm: list[np.ndarray], avm6: int, huffman, first: int) -> list[np.ndarray]:
    """Undo reference-beat subtraction: the section 5 beat added at every type-0 QRS of section 4 (in nV)."""
    s4, s5 = f.body(4), f.body(5)
    if s4 is None or s5 is None:
        f.fail("section 3 says the reference beat was subtracted, but section 4 or 5 is missing")
    ref_ms, ref_fiducial, n_qrs = f.unpack("<HHH", s4, 0, "section 4")
    _, interval5 = f.unpack("<HH", s5, 0, "section 5")
    n_ref = int(round(ref_ms * 1000 / interval5))
    if not 1 <= n_ref <= 100_000:
        f.fail(f"section 4: a reference beat of {ref_ms} ms is not plausible")
    ref, avm5, _ = _lead_data(f, s5, len(rhythm), [n_ref] * len(rhythm), huffman, "section 5")
    qrs = [f.unpack("<HIII", s4, 6 + 14 * q, "section 4") for q in range(n_qrs)]
    out = [x * avm6 for x in rhythm]
    for beat_type, start, fiducial, end in qrs:
        if beat_type != 0 or start == 0:
            continue
        if not start <= fiducial <= end:
            f.fail(f"section 4: QRS at sample {fiducial} has subtraction bounds {start}..{end} around it")
        samples = np.arange(start, end + 1)  # 1-based sample numbers of the record
        idx = samples - fiducial + ref_fiducial - 1  # 0-based index into the reference beat
        pos = samples - first  # 0-based index into the rhythm data
        ok = (idx >= 0) & (idx < n_ref) & (pos >= 0) & (pos < len(out[0]))
        for k, x in enumerate(out):  # every lead has the same length (section 3 was checked)
            x[pos[ok]] += ref[k][idx[ok]] * avm5
    return [x / avm6 for x in out]  # back in units of the rhythm's multiplier (exact when AVMs agree)


def _text(value: bytes) -> str:
    return value.split(b"\x00", 1)[0].decode("latin-1").strip()


def _header(body: bytes | None) -> dict[int, bytes]:
    """Section 1's tagged fields (the first of each tag); stops at tag 255 or the end of the section."""
    tags: dict[int, bytes] = {}
    i = 0
    while body is not None and i + 3 <= len(body):
        tag, length = body[i], struct.unpack_from("<H", body, i + 1)[0]
        if tag == 255:
            break
        tags.setdefault(tag, body[i + 3:i + 3 + length])
        i += 3 + length
    return tags


def _metadata(tags: dict[int, bytes]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Record fields, metadata) from section 1."""
    fields: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    if _text(tags.get(2, b"")):
        fields["patient_id"] = _text(tags[2])
    if len(tags.get(4, b"")) >= 3:
        value, unit = struct.unpack_from("<HB", tags[4])
        per_year = {1: 1, 2: 12, 3: 52.18, 4: 365.25, 5: 8766}.get(unit)
        if per_year and 0 < value < 30000:
            fields["age"] = round(value / per_year, 2)
    if tags.get(8, b"")[:1] in (b"\x01", b"\x02"):
        fields["sex"] = "M" if tags[8][:1] == b"\x01" else "F"
    date, time_ = tags.get(25, b""), tags.get(26, b"")
    if len(date) >= 4:
        year, month, day = struct.unpack_from("<HBB", date)
        if 1900 <= year <= 2200 and 1 <= month <= 12 and 1 <= day <= 31:
            h, m, s = (time_[0], time_[1], time_[2]) if len(time_) >= 3 else (0, 0, 0)
            meta["acquired"] = f"{year:04d}{month:02d}{day:02d}{h:02d}{m:02d}{s:02d}"
    device = tags.get(14, b"")
    if len(device) >= 14:
        # fixed part (35 bytes: ids, type, manufacturer code, model, protocol, ...), then the analysing program's
        # revision (its length in byte 35) and four null-terminated strings: serial number, system software, SCP
        # implementation, manufacturer
        strings = device[36 + device[35]:].split(b"\x00") if len(device) > 36 else []
        printable = [_text(x) if _text(x).isprintable() else "" for x in strings] + [""] * 4
        maker = _MANUFACTURERS.get(device[7]) or printable[3]
        meta["device"] = {k: v for k, v in (("manufacturer", maker), ("model", _text(device[8:14])),
                                             ("serial", printable[0])) if v and v != "unknown"}
    filters = {}
    if len(tags.get(27, b"")) >= 2 and (hp := struct.unpack_from("<H", tags[27])[0]):
        filters["highpass_hz"] = hp / 100
    if len(tags.get(28, b"")) >= 2 and (lp := struct.unpack_from("<H", tags[28])[0]):
        filters["lowpass_hz"] = float(lp)
    if tags.get(29):
        bitmap = tags[29][0]
        filters["notch_hz"] = [hz for bit, hz in ((0, 60), (1, 50)) if bitmap >> bit & 1]
    if filters:
        meta["filters"] = filters
    return fields, meta


def _measurements(body: bytes | None) -> dict[str, int]:
    """The cart's global measurements of section 7 (ms, degrees, bpm), values the cart did not compute left out."""
    if body is None or len(body) < 6:
        return {}
    n_types, n_spikes, rr, pp = struct.unpack_from("<BBHH", body, 0)
    out: dict[str, int] = {}
    if rr and rr not in _NO_VALUE:
        out["RRInterval"] = rr
    if pp and pp not in _NO_VALUE:
        out["PPInterval"] = pp
    if n_types >= 1 and len(body) >= 22:  # the dominant beat (reference beat type 0)
        p_on, p_off, q_on, q_off, t_off, p_ax, qrs_ax, t_ax = struct.unpack_from("<HHHHHhhh", body, 6)
        ok = [v not in _NO_VALUE for v in (p_on, p_off, q_on, q_off, t_off)]
        if ok[0] and ok[2] and q_on >= p_on:
            out["PRInterval"] = q_on - p_on
        if ok[0] and ok[1] and p_off >= p_on:
            out["PDuration"] = p_off - p_on
        if ok[2] and ok[3] and q_off >= q_on:
            out["QRSDuration"] = q_off - q_on
        if ok[2] and ok[4] and t_off >= q_on:
            out["QTInterval"] = t_off - q_on
        for name, v in (("PAxis", p_ax), ("QRSAxis", qrs_ax), ("TAxis", t_ax)):
            if v not in _NO_VALUE and -180 <= v <= 360:
                out[name] = int(v)
    off = 6 + 16 * n_types + 10 * n_spikes
    if off + 2 <= len(body):
        (n_qrs,) = struct.unpack_from("<H", body, off)
        off += 2 + n_qrs
        if off + 6 <= len(body):
            for name, v in zip(("VentricularRate", "AtrialRate", "QTCorrected"), struct.unpack_from("<HHH", body, off),
                               strict=True):
                if v and v not in _NO_VALUE:
                    out[name] = v
    return out


# section 10's per-lead values, in the standard's order (ms and uV); the first 20 of them
_LEAD_MEASUREMENTS = ("PDuration", "PRInterval", "QRSDuration", "QTInterval", "QDuration", "RDuration", "SDuration",
                      "R'Duration", "S'Duration", "QAmplitude", "RAmplitude", "SAmplitude", "R'Amplitude",
                      "S'Amplitude", "JAmplitude", "P+Amplitude", "P-Amplitude", "T+Amplitude", "T-Amplitude")


def _lead_measurements(body: bytes | None) -> dict[str, dict[str, int]]:
    """The cart's per-lead measurements of section 10 (durations in ms, amplitudes in uV), by lead name."""
    out: dict[str, dict[str, int]] = {}
    if body is None or len(body) < 4:
        return out
    (n_leads,) = struct.unpack_from("<H", body, 0)
    off = 4
    for _ in range(n_leads):
        if off + 4 > len(body):
            break
        code, length = struct.unpack_from("<HH", body, off)
        values = np.frombuffer(body[off + 4:off + 4 + min(length, len(body) - off - 4) // 2 * 2], "<i2")
        off += 4 + length
        found = {name: int(v) for name, v in zip(_LEAD_MEASUREMENTS, values.tolist(), strict=False)
                 if v not in _NO_VALUE}
        if found and code:
            out[_lead_name(code)] = found
    return out


def _statements(body: bytes | None) -> list[str]:
    """The cart's interpretation statements of section 8."""
    if body is None or len(body) < 9:
        return []
    n, off, out = body[8], 9, []
    for _ in range(n):
        if off + 3 > len(body):
            break
        length = struct.unpack_from("<H", body, off + 1)[0]
        text = _text(body[off + 3:off + 3 + length])
        if text:
            out.append(text)
        off += 3 + length
    return out


def read_scp(data: str | Path | bytes, *, source: str | None = None) -> Record:
    """Read an SCP-ECG record into a :class:`Record` (module docstring).

    Examples
    --------
    >>> from ecgscope.io import read_scp
    >>> rec = read_scp("tests/fixtures/scp/ecgtoolkit_example.scp")  # doctest: +SKIP
    >>> rec.fs, rec.n_leads, rec.duration_s  # doctest: +SKIP
    (500.0, 12, 10.0)
    """
    raw, source = source_bytes(data, source, "<scp>")
    f = _File(raw, source)
    s3, s6 = f.body(3), f.body(6)
    if s3 is None:
        f.fail("no lead definition (section 3)", "empty_signal")
    if s6 is None:
        f.fail("no rhythm data (section 6): the record holds no continuous ECG", "empty_signal")
    n_leads, flags = f.unpack("<BB", s3, 0, "section 3")
    if n_leads == 0:
        f.fail("section 3 defines no leads", "empty_signal")
    spans = [f.unpack("<IIB", s3, 2 + 9 * k, "section 3") for k in range(n_leads)]
    starts, ends = {s for s, _, _ in spans}, {e for _, e, _ in spans}
    if len(starts) > 1 or len(ends) > 1:
        f.fail(f"leads were recorded one group after another (sample spans {sorted({(s, e) for s, e, _ in spans})}), "
               "not simultaneously", "unsupported_scp")
    first, last = starts.pop(), ends.pop()
    first = max(first, 1)  # some writers count from 0
    n = last - first + 1
    if not 1 <= n <= 100_000_000:
        f.fail(f"section 3: leads span samples {first}..{last}")
    huffman = _Huffman.from_section(f.body(2), f)
    rhythm, avm, interval = _lead_data(f, s6, n_leads, [n] * n_leads, huffman, "section 6")
    if flags & 1:
        rhythm = _add_reference_beats(f, [x.astype(np.float64) for x in rhythm], avm, huffman, first)
    fs = 1e6 / interval
    if abs(fs - round(fs)) / fs < 1e-3:  # 600 Hz is stored as 1667 us
        fs = float(round(fs))
    names = [_lead_name(code) for _, _, code in spans]
    if len(set(names)) != len(names):
        f.fail(f"section 3 names a lead twice: {names}")
    mv_per_unit = avm * 1e-6
    leads = {name: np.asarray(x, np.float64) * mv_per_unit for name, x in zip(names, rhythm, strict=True)}
    derived = derive_limb_leads(leads)
    order = [n_ for n_ in STANDARD_LEADS if n_ in leads] + [n_ for n_ in leads if n_ not in STANDARD_LEADS]
    fields, meta = _metadata(_header(f.body(1)))
    meta["scp"] = {"sample_interval_us": interval, "amplitude_nv_per_unit": avm, "huffman": huffman is not None,
                   "reference_beat_subtracted": bool(flags & 1), "sections": sorted(f.sections)}
    if derived:
        meta["derived_leads"] = derived
    if m := _measurements(f.body(7)):
        meta["cart_measurements"] = m
    if m := _lead_measurements(f.body(10)):
        meta["cart_lead_measurements"] = m
    if s := _statements(f.body(8)):
        meta["cart_statements"] = s
    gain = 1.0 / mv_per_unit
    return Record(np.stack([leads[k] for k in order]), fs=fs, leads=tuple(order), source_format="scp", units="mV",
                  gain=tuple(gain if k not in derived else float("nan") for k in order), metadata=meta, **fields)
