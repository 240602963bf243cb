"""SCP-ECG: two real public files (a Mortara ELI250 record converted by the ECG Conversion Toolkit, a Welch Allyn
CardioControl MDW14 export), the decoder's paths (Huffman tables, reference-beat subtraction), malformed files."""

from __future__ import annotations

import binascii
import struct
from pathlib import Path

import numpy as np
import pytest

from ecgscope.io import load_record
from ecgscope.io.scp_format import _File
from ecgscope.signal.peaks import ecg_peaks

FIXTURES = Path(__file__).parents[1] / "fixtures" / "scp"
TOOLKIT = FIXTURES / "ecgtoolkit_example.scp"  # ECG Conversion Toolkit (Apache-2.0): 12 leads, 500 Hz, Huffman
WELCH = FIXTURES / "welchallyn_mdw14_anon4.scp"  # SCP-Tools (MIT): 8 stored leads, 600 Hz, the cart's measurements


def _crc(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)


def _section(num: int, body: bytes, reserved: bytes = b"\0" * 6) -> bytes:
    rest = struct.pack("<HIBB", num, 16 + len(body), 20, 20) + reserved + body
    return struct.pack("<H", _crc(rest)) + rest


def build(bodies: dict[int, bytes]) -> bytes:
    """An SCP-ECG record of these section bodies: pointers, lengths and CRCs as the standard lays them out."""
    ids = sorted(set(range(12)) | set(bodies) - {0})
    s0_len = 16 + 10 * len(ids)
    pointers, blobs, index = [], [], 7 + s0_len
    for i in ids:
        if i == 0:
            pointers.append((0, s0_len, 7))
        elif i in bodies:
            blob = _section(i, bodies[i])
            pointers.append((i, len(blob), index))
            blobs.append(blob)
            index += len(blob)
        else:
            pointers.append((i, 0, 0))
    data = _section(0, b"".join(struct.pack("<HII", *p) for p in pointers), b"SCPECG") + b"".join(blobs)
    rest = struct.pack("<I", 6 + len(data)) + data
    return struct.pack("<H", _crc(rest)) + rest


def bodies_of(path: Path) -> dict[int, bytes]:
    f = _File(path.read_bytes(), path.name)
    return {n: f.body(n) for n in f.sections}


def test_the_toolkit_example_reads_to_twelve_simultaneous_leads_at_true_scale():
    rec = load_record(TOOLKIT)
    assert rec.source_format == "scp" and rec.fs == 500.0 and rec.duration_s == 10.0
    assert rec.leads == ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    assert "derived_leads" not in rec.metadata  # all twelve are stored in this file
    lead = {n: rec.signal[k].astype(np.float64) for k, n in enumerate(rec.leads)}
    # the stored limb leads obey Einthoven and Goldberger to the file's quantum (2.5 uV): Huffman + second
    # differences decoded right, for every sample of every lead
    assert rec.metadata["scp"]["amplitude_nv_per_unit"] == 2500
    np.testing.assert_allclose(lead["III"], lead["II"] - lead["I"], atol=1e-6)
    np.testing.assert_allclose(lead["aVR"] + lead["aVL"] + lead["aVF"], 0, atol=0.0025 + 1e-6)
    np.testing.assert_allclose(rec.signal[0, :3], [-0.005, -0.005, -0.005], atol=1e-7)
    assert rec.patient_id == "SBJ-123" and rec.sex == "M" and rec.metadata["acquired"] == "20021122091000"
    assert rec.metadata["device"]["model"] == "ELI250"
    assert rec.metadata["cart_measurements"] == {"PRInterval": 148, "PDuration": 102, "QRSDuration": 120,
                                                 "QTInterval": 420, "PAxis": 44, "QRSAxis": -61, "TAxis": 86,
                                                 "QTCorrected": 443}


def test_the_welch_allyn_export_matches_the_carts_own_r_amplitudes():
    rec = load_record(WELCH)
    assert rec.fs == 600.0 and rec.duration_s == 10.0  # stored as a 1667 us interval
    assert rec.metadata["scp"]["sample_interval_us"] == 1667
    assert rec.metadata["derived_leads"] == ["III", "aVR", "aVL", "aVF"]
    assert rec.metadata["device"] == {"manufacturer": "Welch Allyn Cardio Control", "model": "MDW14"}
    assert rec.patient_id == "ANON000004" and rec.age == 39
    assert rec.metadata["filters"] == {"lowpass_hz": 35.0, "notch_hz": [50]}
    assert "sinusrytm" in rec.metadata["cart_statements"]
    assert rec.metadata["cart_measurements"]["VentricularRate"] == 75
    cart = rec.metadata["cart_lead_measurements"]
    assert cart["II"]["RAmplitude"] == 2407
    # the R amplitude over the PR baseline, median over beats, agrees with the cart's section 10 (uV) in every
    # lead where R is large: the amplitude multiplier (3750 nV) and first-difference decoding are right
    peaks = ecg_peaks(rec)
    fs = rec.fs
    peaks = peaks[(peaks > 0.2 * fs) & (peaks < rec.n_samples - 0.2 * fs)]
    assert len(peaks) == pytest.approx(12, abs=1)  # 75 bpm for 10 s
    checked = 0
    for k, name in enumerate(rec.leads):
        if cart.get(name, {}).get("RAmplitude", 0) < 1000:
            continue
        x = rec.signal[k]
        amps = [x[p - int(0.04 * fs):p + int(0.04 * fs)].max() - np.median(x[p - int(0.1 * fs):p - int(0.06 * fs)])
                for p in peaks]
        assert 1000 * np.median(amps) == pytest.approx(cart[name]["RAmplitude"], rel=0.15), name
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize("sample", [TOOLKIT, WELCH], ids=["toolkit", "welch_allyn"])
def test_an_scp_file_is_analysed_end_to_end(sample, analyzed_by_cli):
    d = analyzed_by_cli(sample)
    assert d["model"]["name"] == "ecgscope-17-12lead"
    if sample == WELCH:
        assert d["measurements"]["heart_rate_bpm"] == pytest.approx(75, abs=5)  # the cart: VentricularRate 75


def test_scp_is_detected_by_content_without_its_extension(tmp_path):
    plain = tmp_path / "ecg_export"
    plain.write_bytes(TOOLKIT.read_bytes())
    assert load_record(plain).source_format == "scp"
    assert load_record(TOOLKIT.read_bytes()).source_format == "scp"


# the standard's default table written out as a file-defined table: prefix bits, total bits, mode, value, code
STANDARD_TABLE = [(1, 1, 1, 0, 0), (3, 3, 1, 1, 1), (3, 3, 1, -1, 5), (4, 4, 1, 2, 3), (4, 4, 1, -2, 11),
                  (5, 5, 1, 3, 7), (5, 5, 1, -3, 23), (6, 6, 1, 4, 15), (6, 6, 1, -4, 47), (7, 7, 1, 5, 31),
                  (7, 7, 1, -5, 95), (8, 8, 1, 6, 63), (8, 8, 1, -6, 191), (9, 9, 1, 7, 127), (9, 9, 1, -7, 383),
                  (10, 10, 1, 8, 255), (10, 10, 1, -8, 767), (10, 18, 1, 0, 511), (10, 26, 1, 0, 1023)]


def _table(codes) -> bytes:
    return struct.pack("<HH", 1, len(codes)) + b"".join(struct.pack("<BBBhI", *c) for c in codes)


def test_a_file_defined_huffman_table_decodes_like_the_default_one():
    bodies = bodies_of(TOOLKIT)
    assert struct.unpack_from("<H", bodies[2])[0] == 19999
    explicit = load_record(build({**bodies, 2: _table(STANDARD_TABLE)}), name="t.scp")
    np.testing.assert_array_equal(explicit.signal, load_record(TOOLKIT).signal)


def _raw_record(rhythm: np.ndarray, *, ref: np.ndarray | None = None, qrs=(), fiducial: int = 0,
                interval: int = 2000, avm: int = 5000, bimodal: int = 0, spans=None) -> bytes:
    """An uncompressed SCP-ECG record of int16 lead data, with reference-beat subtraction when ``ref`` is given."""
    n_leads, n = rhythm.shape
    spans = spans or [(1, n)] * n_leads
    flags = (1 if ref is not None else 0) | 4 | (n_leads << 3)
    s3 = struct.pack("<BB", n_leads, flags) + b"".join(struct.pack("<IIB", a, b, code)
                                                       for (a, b), code in zip(spans, (1, 2, 3, 4, 5, 6), strict=False))
    data = rhythm.astype("<i2")
    s6 = struct.pack("<HHBB", avm, interval, 0, bimodal) + struct.pack(f"<{n_leads}H", *[2 * n] * n_leads)
    bodies = {3: s3, 6: s6 + data.tobytes()}
    if ref is not None:
        bodies[5] = (struct.pack("<HHBB", avm, interval, 0, 0)
                     + struct.pack(f"<{n_leads}H", *[2 * ref.shape[1]] * n_leads) + ref.astype("<i2").tobytes())
        ref_ms = ref.shape[1] * interval // 1000
        bodies[4] = (struct.pack("<HHH", ref_ms, fiducial, len(qrs))
                     + b"".join(struct.pack("<HIII", 0, a, c, b) for a, c, b in qrs)
                     + b"".join(struct.pack("<II", a, b) for a, _, b in qrs))
    return build(bodies)


def test_reference_beat_subtraction_is_undone_at_every_type_0_qrs():
    toolkit = load_record(TOOLKIT)
    digits = np.round(toolkit.signal[[0, 1, 6]].astype(np.float64) / 0.005).astype(np.int64)  # 5 uV units
    r = ecg_peaks(toolkit)
    r = r[(r > 150) & (r < digits.shape[1] - 150)]
    fid = 101  # 1-based fiducial sample of a 250-sample (500 ms) reference beat
    ref = np.median(np.stack([digits[:, p - 100:p + 150] for p in r]), axis=0).astype(np.int64)
    residual = digits.copy()
    qrs = []
    for p in r:
        start, end = p - 60, p + 80  # subtract over part of the beat only, as carts do around the QRS
        residual[:, start:end + 1] -= ref[:, start - p + fid - 1:end - p + fid]
        qrs.append((start + 1, p + 1, end + 1))  # 1-based sample numbers
    back = load_record(_raw_record(residual, ref=ref, qrs=qrs, fiducial=fid), name="refbeat.scp")
    assert back.metadata["scp"]["reference_beat_subtracted"]
    stored = [back.leads.index(n) for n in ("I", "II", "V1")]  # codes 1, 2, 3; III and aV* are derived
    np.testing.assert_allclose(back.signal[stored], digits * 0.005, atol=1e-6)  # exact in the file's units
    plain = load_record(_raw_record(residual), name="residual.scp")
    assert np.abs(plain.signal[stored] - digits * 0.005).max() > 0.5  # the residual alone is far from the ECG


def _rewrite(path: Path, changes: dict[int, bytes]) -> bytes:
    return build({**bodies_of(path), **changes})


def _corrupt(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def _recrc(data: bytes) -> bytes:
    return struct.pack("<H", _crc(data[2:])) + data[2:]


def _pointer(data: bytes, slot: int, num: int, length: int, index: int) -> bytes:
    """``data`` with section 0's pointer ``slot`` rewritten, both CRCs made right again (only the pointer lies)."""
    at = 6 + 16 + 10 * slot
    data = data[:at] + struct.pack("<HII", num, length, index) + data[at + 10:]
    s0_len = struct.unpack_from("<I", data, 10)[0]
    data = data[:6] + struct.pack("<H", _crc(data[8:6 + s0_len])) + data[8:]
    return _recrc(data)


RAW = TOOLKIT.read_bytes()
_S6 = bodies_of(TOOLKIT)[6]
_RHYTHM = np.round(load_record(TOOLKIT).signal[:2].astype(np.float64) / 0.005)

MALFORMED = {
    "truncated file": (RAW[: len(RAW) // 2], "truncated", "the record says it is 34144 bytes"),
    "too short for section 0": (RAW[:12], "truncated", "too short"),
    "corrupted byte (file CRC)": (_corrupt(RAW, 20000), "bad_checksum", "CRC-CCITT of the record"),
    "corrupted section (section CRC)": (_recrc(_corrupt(RAW, 20000)), "bad_checksum", "section 6: CRC"),
    "pointer outside the record": (_pointer(RAW, 6, 6, 30084, 40000), "bad_scp", "lies outside"),
    "section id lying": (_pointer(RAW, 6, 6, 30084, 455), "bad_scp", "the section's own header says"),
    "not SCP at all": (b"\x00" * 6 + b"\x00\x00" + b"\x00" * 40, "bad_scp", "not an SCP-ECG pointer section"),
    "lead byte counts lying": (_rewrite(TOOLKIT, {6: _S6[:6] + struct.pack("<H", 60000) + _S6[8:]}), "truncated",
                               "claim"),
    "Huffman stream ends early": (_rewrite(TOOLKIT, {6: _S6[:6] + struct.pack("<H", 100) + _S6[8:]}), "truncated",
                                  "cannot hold 5000"),
    "codes not prefix-free": (_rewrite(TOOLKIT, {2: _table([(1, 1, 1, 0, 0), (2, 2, 1, 1, 0)])}), "bad_scp",
                              "not prefix-free"),
    "no rhythm data": (build({k: v for k, v in bodies_of(TOOLKIT).items() if k != 6}), "empty_signal",
                       "no rhythm data"),
    "no leads": (_rewrite(TOOLKIT, {3: b"\x00\x00"}), "empty_signal", "defines no leads"),
    "bimodal compression": (_raw_record(_RHYTHM, bimodal=1), "unsupported_scp", "bimodal compression"),
    "leads not simultaneous": (_raw_record(_RHYTHM, spans=[(1, 5000), (5001, 10000)]), "unsupported_scp",
                               "one group after another"),
    "reference beat missing": (build({**{k: v for k, v in bodies_of(TOOLKIT).items() if k not in (4, 5)},
                                      3: bytes([12, bodies_of(TOOLKIT)[3][1] | 1]) + bodies_of(TOOLKIT)[3][2:]}),
                               "bad_scp", "section 4 or 5 is missing"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_scp_is_refused_with_a_message_naming_file_and_problem(case, assert_refused):
    data, code, words = MALFORMED[case]
    assert_refused(data, "record.scp", code, words)


def test_huffman_table_switching_and_value_codes():
    # table 1: "0" -> 0, "10" -> switch to table 2, "11" + 8 bits -> that value; table 2: "0" -> 5, "1" -> table 1
    # (base codes are the codes as transmitted, first bit in the lowest bit)
    tables = struct.pack("<H", 2) + struct.pack("<H", 3) + b"".join(
        struct.pack("<BBBhI", *c) for c in [(1, 1, 1, 0, 0), (2, 2, 0, 2, 1), (2, 10, 1, 0, 3)]
    ) + struct.pack("<H", 2) + b"".join(struct.pack("<BBBhI", *c) for c in [(1, 1, 1, 5, 0), (1, 1, 0, 1, 1)])
    values = [0, 0, 17, -3, 5, 5, 0, 0, -128, 0]
    bits = "0" + "0" + "11" + "00010001" + "11" + "11111101" + "10" + "0" + "0" + "1" + "0" + "0" + "11" + "10000000" + "0"
    repeats = 120  # a Record is at least 2 s; the sequence starts and ends in table 1
    values, bits = values * repeats, bits * repeats
    bits += "0" * (-len(bits) % 8)
    stream = int(bits, 2).to_bytes(len(bits) // 8, "big")
    n = len(values)
    leads = 2  # I and II, the same stream twice
    s3 = struct.pack("<BB", leads, 4 | (leads << 3)) + struct.pack("<IIB", 1, n, 1) + struct.pack("<IIB", 1, n, 2)
    s6 = struct.pack("<HHBB", 10_000, 2000, 0, 0) + struct.pack("<2H", len(stream), len(stream)) + stream * 2
    rec = load_record(build({2: tables, 3: s3, 6: s6}), name="switch.scp")
    np.testing.assert_allclose(rec.signal[rec.leads.index("I")], np.array(values) * 0.01, atol=1e-7)
