"""GE MUSE XML: real public exports (MAC55), derived limb leads, the cart's measurements, malformed files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ecgscope.io import load_record

FIXTURES = Path(__file__).parents[1] / "fixtures" / "muse"
SAMPLE = FIXTURES / "musephi_ecg1.xml"  # from overdodactyl/musePHI (MIT)


def test_the_public_exports_read_to_twelve_leads_with_the_derived_limb_leads():
    rec = load_record(SAMPLE)
    assert rec.source_format == "muse" and rec.fs == 500.0 and rec.duration_s == 10.0
    assert rec.leads == ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    # lead I's first stored values are 32, 32, 32, 32, 34 at 4.88 uV per bit
    np.testing.assert_allclose(rec.signal[0, :5], [0.15616, 0.15616, 0.15616, 0.15616, 0.16592], atol=1e-6)
    assert rec.metadata["derived_leads"] == ["III", "aVR", "aVL", "aVF"]
    lead = {n: rec.signal[k].astype(np.float64) for k, n in enumerate(rec.leads)}
    np.testing.assert_allclose(lead["III"], lead["II"] - lead["I"], atol=1e-6)
    np.testing.assert_allclose(lead["aVR"] + lead["aVL"] + lead["aVF"], 0, atol=1e-5)  # Goldberger
    assert rec.patient_id == "JAX01234" and rec.age == 60 and rec.sex == "M"
    assert rec.metadata["device"]["model"] == "MAC55" and rec.metadata["acquired"] == "20210510131518"
    assert rec.metadata["cart_measurements"]["QRSDuration"] == "78"
    assert "Ventricular-paced rhythm" in rec.metadata["cart_statements"]
    other = load_record(FIXTURES / "musephi_ecg2.xml")
    assert other.n_leads == 12 and other.fs == 500.0


def test_a_muse_export_is_analysed_end_to_end_and_agrees_with_the_cart(analyzed_by_cli):
    d = analyzed_by_cli(SAMPLE)
    assert d["model"]["name"] == "ecgscope-17-12lead"
    assert d["measurements"]["heart_rate_bpm"] == pytest.approx(60, abs=5)  # the cart: VentricularRate 60


def _first_lead(text: str, fn) -> bytes:
    """The sample with its first rhythm LeadData block changed by ``fn``."""
    i = text.index("<WaveformType>Rhythm</WaveformType>")
    j = text.index("</LeadData>", i)
    return (text[:i] + fn(text[i:j]) + text[j:]).encode("latin-1")


TEXT = SAMPLE.read_bytes().decode("latin-1")


def _flip(block: str) -> str:
    m = re.search(r"<WaveFormData>\s*(\S)", block)
    c = m.group(1)
    return block[: m.start(1)] + ("B" if c != "B" else "C") + block[m.end(1):]


MALFORMED = {
    "corrupted samples (CRC-32)": (_first_lead(TEXT, _flip), "bad_checksum", "CRC-32"),
    "lying byte count": (_first_lead(TEXT, lambda b: b.replace("<LeadByteCountTotal>10000<",
                                                               "<LeadByteCountTotal>12000<")), "bad_muse",
                         "do not make 12000 bytes"),
    "truncated samples": (_first_lead(TEXT, lambda b: re.sub(r"(<WaveFormData>)\s*\S{64}", r"\1", b, count=1)),
                          None, "lead I"),
    "not base64": (_first_lead(TEXT, lambda b: re.sub(r"<WaveFormData>\s*\S", "<WaveFormData>%", b, count=1)),
                   "bad_muse", "not valid base64"),
    "unknown amplitude unit": (_first_lead(TEXT, lambda b: b.replace("MICROVOLTS", "FURLONGS", 1)), "bad_units",
                               "unknown amplitude unit"),
    "no rhythm waveform": (TEXT.replace("<WaveformType>Rhythm</WaveformType>",
                                        "<WaveformType>Other</WaveformType>").encode("latin-1"), "empty_signal",
                           "no Rhythm waveform"),
    "implausible sampling rate": (_first_lead(TEXT, lambda b: b.replace("<SampleBase>500<", "<SampleBase>1<", 1)),
                                  "bad_muse", "not plausible"),
    "entity declaration": (TEXT.replace('<!DOCTYPE RestingECG SYSTEM "restecg.dtd">',
                                        '<!DOCTYPE RestingECG [<!ENTITY a "b">]>').encode("latin-1"), "unsafe_xml",
                           "refused for safety"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_muse_is_refused_with_a_message_naming_file_and_problem(case, assert_refused):
    data, code, words = MALFORMED[case]
    assert_refused(data, "export.xml", code, words)


def test_the_real_doctype_line_is_accepted_but_never_fetched():
    assert TEXT.lstrip().splitlines()[1].startswith("<!DOCTYPE RestingECG SYSTEM")
    assert load_record(SAMPLE.read_bytes(), name="x.xml").source_format == "muse"
