"""Philips Sierra / PageWriter XML with XLI compression: real public files, the published decoded values,
malformed files refused by name."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest

from ecgscope.io import load_record
from ecgscope.io.philips_format import lzw_decode

FIXTURES = Path(__file__).parents[1] / "fixtures" / "philips"
V103 = FIXTURES / "sierra_1-03_129DYPRG.xml"  # from the sierraecg readers' test data (MIT)
V104 = FIXTURES / "philips_1-04-01_2020-5-18.xml"  # UTF-16, document version 1.04.01
# the raw values at sample 2750 of each lead, as the sierraecg readers' tests publish them for these files
MIDPOINTS = {V103: [-9, -17, -7, 13, -1, -12, 0, -1, -3, -4, -7, -6],
             V104: [-12, 78, 90, -33, -51, 84, 14, 3, -24, -20, -13, -21]}


@pytest.mark.parametrize("path", [V103, V104], ids=["1.03", "1.04.01 (UTF-16)"])
def test_xli_files_decode_to_the_published_values(path):
    rec = load_record(path)
    assert rec.source_format == "philips" and rec.fs == 500.0 and rec.n_samples == 5500  # 11 s
    assert rec.leads == ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    step_mv = 1 / rec.gain[0] / 1000  # 5 uV per unit
    assert step_mv == pytest.approx(0.005)
    assert np.rint(rec.signal[:, 2750] / step_mv).astype(int).tolist() == MIDPOINTS[path]
    lead = {n: rec.signal[k].astype(np.float64) for k, n in enumerate(rec.leads)}
    # the reconstructed limb leads obey Einthoven to the cart's integer rounding (two units) over the first 10 s
    # (the carts' last ~0.3 s of the 11-s buffer does not)
    assert np.abs(lead["III"] - (lead["II"] - lead["I"]))[:5000].max() <= 0.0101
    assert rec.metadata["cart_measurements"]["qrsdur"] in ("115", "92")


def test_a_philips_file_is_analysed_end_to_end_and_agrees_with_the_cart(analyzed_by_cli):
    d = analyzed_by_cli(V104)
    assert d["model"]["name"] == "ecgscope-17-12lead"
    assert d["measurements"]["heart_rate_bpm"] == pytest.approx(64, abs=5)  # the cart: heartrate 64


def test_lzw_round_trips_the_textbook_example_and_refuses_an_undefined_code():
    # "TOBEORNOTTOBEORTOBEORNOT" in 10-bit codes (with the KwKwK case exercised by "aaaa")
    def encode(data: bytes, bits: int = 10) -> bytes:
        table, w, codes = {bytes([i]): i for i in range(256)}, b"", []
        for c in data:
            wc = w + bytes([c])
            if wc in table:
                w = wc
            else:
                codes.append(table[w])
                table[wc] = len(table)
                w = bytes([c])
        codes.append(table[w])
        acc = "".join(format(c, f"0{bits}b") for c in codes)
        acc += "0" * (-len(acc) % 8)
        return int(acc, 2).to_bytes(len(acc) // 8, "big")

    for text in (b"TOBEORNOTTOBEORTOBEORNOT", b"aaaaaaaaaa", b"x"):
        assert lzw_decode(encode(text)) == text
    with pytest.raises(ValueError, match="before it was defined"):
        lzw_decode(int("1111100000" + "000000", 2).to_bytes(2, "big"))  # code 992 first


TEXT = V103.read_bytes().decode("utf-8")


def _wave(fn) -> bytes:
    m = re.search(r"(<parsedwaveforms[^>]*>)([^<]*)(</parsedwaveforms>)", TEXT)
    return (TEXT[: m.start(2)] + fn(m.group(2)) + TEXT[m.end(2):]).encode("utf-8")


MALFORMED = {
    "truncated waveform": (_wave(lambda w: base64.b64encode(base64.b64decode(w)[:3000]).decode()), "truncated",
                           "remain"),
    "not base64": (_wave(lambda w: "%" + w[1:]), "bad_philips", "not valid base64"),
    "empty waveform": (_wave(lambda w: ""), "empty_signal", "no waveform"),
    "unsupported version": (TEXT.replace("<documentversion>1.03<", "<documentversion>9.99<").encode(), "bad_philips",
                            "not supported"),
    "unsupported compression": (TEXT.replace('compressmethod="XLI"', 'compressmethod="ZIP"').encode(), "bad_philips",
                                "compression 'ZIP'"),
    "implausible resolution": (TEXT.replace("<signalresolution>5<", "<signalresolution>0<").encode(), "bad_philips",
                               "not plausible"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_philips_is_refused_with_a_message_naming_file_and_problem(case, assert_refused):
    data, code, words = MALFORMED[case]
    assert_refused(data, "cart.xml", code, words)
