"""A faster route through wfdb for the common single-segment record.

``wfdb.rdrecord`` spends more than half of a 10-s record's read time typing header fields through
pandas ``.loc`` look-ups (``wfdb.io._header._parse_signal_lines``).  This module does the same steps
with wfdb's own pieces: its header regular expressions (``wfdb.io.header``), its field defaults and
types (``SIGNAL_SPECS``, turned into a dict once), its record-line parser, and its signal decoder
(``_rd_segment`` + ``_arrange_fields``), so decoding stays wfdb's.  Anything unusual (multi-segment,
skew, several samples per frame, an unknown signal length, any error) returns ``None`` and the caller
uses ``wfdb.rdrecord``.  ``tests/io/test_wfdb_fast.py`` checks both routes agree on real records of
every dataset.
"""

from __future__ import annotations

from pathlib import Path

import wfdb
from wfdb.io import _header, _signal
from wfdb.io import header as wfdb_header

_FIELDS = ("file_name", "fmt", "samps_per_frame", "skew", "byte_offset", "adc_gain", "baseline", "units",
           "adc_res", "adc_zero", "init_value", "checksum", "block_size", "sig_name")
_SPECS = {f: (_header.SIGNAL_SPECS.loc[f, "allowed_types"], _header.SIGNAL_SPECS.loc[f, "read_default"])
          for f in _FIELDS}
_ADC_ZERO = _FIELDS.index("adc_zero")


def _signal_fields(lines: list[str]) -> dict[str, list]:
    """``wfdb.io._header._parse_signal_lines`` without the per-field pandas look-ups (same results)."""
    out: dict[str, list] = {f: [None] * len(lines) for f in _FIELDS}
    for ch, line in enumerate(lines):
        match = wfdb_header.rx_signal.match(line)
        if match is None:
            raise wfdb_header.HeaderSyntaxError("invalid syntax in signal line")
        groups = match.groups()
        for f, raw in zip(_FIELDS, groups, strict=True):
            types, default = _SPECS[f]
            if raw == "":
                value = default
                if f == "baseline" and groups[_ADC_ZERO] != "":
                    value = int(groups[_ADC_ZERO])  # a missing baseline defaults to ADC zero
            elif types is _header.int_types:
                value = int(raw)
            elif types is _header.float_types:
                value = float(raw)
                if f == "adc_gain" and value == 0:
                    value = 200.0  # WFDB: gain 0 means the default 200
            else:
                value = raw
            out[f][ch] = value
    return out


def read_digital(base: Path, return_res: int = 32) -> wfdb.Record | None:
    """A ``wfdb.Record`` with ``d_signal`` for a plain single-segment record, else ``None``."""
    try:
        content = base.with_name(base.name + ".hea").read_text(encoding="ascii", errors="ignore")
        header_lines, comment_lines = wfdb_header.parse_header_content(content)
        record_fields = _header._parse_record_line(header_lines[0])
        if record_fields["n_seg"] is not None or not record_fields["sig_len"] or len(header_lines) < 2:
            return None
        fields = _signal_fields(header_lines[1:])
        if any(fields["skew"]) or any(spf != 1 for spf in fields["samps_per_frame"]):
            return None
        record = wfdb.Record()
        for name, value in fields.items():
            setattr(record, name, value)
        for name, value in record_fields.items():
            if name != "n_seg":
                setattr(record, name, value)
        record.comments = [line.strip(" \t#") for line in comment_lines]
        if record.n_sig != len(header_lines) - 1:
            return None
        channels = list(range(record.n_sig))
        record.check_read_inputs(0, record.sig_len, channels, False, True, return_res)
        record.e_d_signal = _signal._rd_segment(
            file_name=record.file_name, dir_name=str(base.parent), pn_dir=None, fmt=record.fmt,
            n_sig=record.n_sig, sig_len=record.sig_len, byte_offset=record.byte_offset,
            samps_per_frame=record.samps_per_frame, skew=record.skew, init_value=record.init_value,
            sampfrom=0, sampto=record.sig_len, channels=channels, ignore_skew=False, return_res=return_res,
        )
        record._arrange_fields(channels=channels, sampfrom=0, smooth_frames=True)
    except Exception:  # noqa: BLE001 - any trouble: wfdb.rdrecord reads it (or reports the error)
        return None
    return record
