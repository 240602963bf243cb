"""HL7 aECG: a real public sample, write-then-read on real records, and malformed files refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgscope.errors import ECGScopeError
from ecgscope.io import load_record, save_record

FIXTURES = Path(__file__).parents[1] / "fixtures" / "aecg"
SAMPLE = FIXTURES / "fda_subject1_0.xml"  # HL7 2003 ballot example (Mortara ELI250), via FDA/aecg-python, CC0


def test_the_public_sample_reads_to_its_leads_rate_duration_and_amplitudes():
    rec = load_record(SAMPLE)
    assert rec.source_format == "aecg" and rec.fs == 500.0 and rec.duration_s == 10.0
    assert set(rec.leads) == {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"}
    # lead I's first digits are "-2 -2 -2 -2 -3" at origin 0, scale 2.5 uV
    np.testing.assert_allclose(rec.signal[rec.leads.index("I"), :5], [-0.005, -0.005, -0.005, -0.005, -0.0075],
                               atol=1e-7)
    assert rec.gain[0] == pytest.approx(0.4) and rec.units == "uV"
    # the limb leads obey Einthoven's law (III = II - I) sample by sample, to the digit
    lead_i, lead_ii, lead_iii = (rec.signal[rec.leads.index(n)].astype(np.float64) for n in ("I", "II", "III"))
    assert np.abs(lead_iii - (lead_ii - lead_i)).max() <= 0.0051  # two 2.5-uV roundings
    assert rec.patient_id == "subject1" and rec.record_id == "subject1_0"
    assert rec.metadata["device"] == {"model": "ELI250", "manufacturer": "Mortara Instrument, Inc."}
    assert rec.metadata["acquired"] == "20021122091000"
    cart = {a["code"]: a for a in rec.metadata["cart_annotations"]}
    assert cart["MDC_ECG_TIME_PD_PR"] == {"code": "MDC_ECG_TIME_PD_PR", "value": "148", "unit": "ms"}


def test_the_public_sample_is_analysed_end_to_end(analyzed_by_cli):
    d = analyzed_by_cli(SAMPLE)
    assert d["model"]["name"] == "ecgscope-17-12lead" and d["input"]["fs"] == 500.0
    assert 40 < d["measurements"]["heart_rate_bpm"] < 120
    # the cart measured QRS 120 ms; ecgscope's delineation should be in the same range
    assert 70 <= d["measurements"]["qrs_ms"] <= 150


def test_write_then_read_is_exact_on_real_records(data_dir, tmp_path):
    from ecgscope.datasets import open_dataset

    ds = open_dataset("ptbxl", data_dir)
    for i in (0, 1, 2):
        rec = ds.load(i)
        back = load_record(save_record(rec, tmp_path / f"r{i}.xml"))
        assert back.leads == rec.leads and back.fs == rec.fs and back.signal.shape == rec.signal.shape
        np.testing.assert_array_equal(back.signal, rec.signal)
        assert back.patient_id == rec.patient_id


def test_the_sample_converts_to_wfdb_and_back_sample_for_sample(tmp_path):
    rec = load_record(SAMPLE)
    wfdb = load_record(save_record(rec, tmp_path / "s.hea"))
    np.testing.assert_allclose(wfdb.signal, rec.signal, atol=1e-7)  # at its own 2.5-uV step, not a 1.25-mV one
    back = load_record(save_record(wfdb, tmp_path / "s.xml"))
    np.testing.assert_array_equal(back.signal, wfdb.signal)


def test_a_float_record_round_trips_to_a_hundredth_of_a_microvolt(tmp_path):
    from ecgscope.record import Record

    rng = np.random.default_rng(0)
    rec = Record(rng.normal(0, 0.5, (2, 1800)), fs=360, leads=("II", "V1"), record_id="floaty")
    back = load_record(save_record(rec, tmp_path / "f.xml"))
    assert back.fs == 360.0 and back.leads == ("II", "V1")
    assert np.abs(back.signal - rec.signal).max() <= 5e-6 + 1e-7


def _aecg(body: str, root: str = '<AnnotatedECG xmlns="urn:hl7-org:v3" '
                                 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">') -> bytes:
    return (f'<?xml version="1.0"?>\n{root}<component><series><code code="RHYTHM"/><component><sequenceSet>'
            f"{body}</sequenceSet></component></series></component></AnnotatedECG>").encode()


_TIME = ('<component><sequence><code code="TIME_ABSOLUTE"/><value xsi:type="GLIST_TS"><head value="0"/>'
         '<increment value="0.002" unit="s"/></value></sequence></component>')


def _lead(name: str, digits: str, scale: str = '<scale value="5" unit="uV"/>') -> str:
    return (f'<component><sequence><code code="MDC_ECG_LEAD_{name}"/><value xsi:type="SLIST_PQ">'
            f'<origin value="0" unit="uV"/>{scale}<digits>{digits}</digits></value></sequence></component>')


GOOD = _aecg(_TIME + _lead("I", " ".join(["10", "-20"] * 600)) + _lead("II", " ".join(["5", "7"] * 600)))

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<AnnotatedECG xmlns="urn:hl7-org:v3"><text>&lol3;</text></AnnotatedECG>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<AnnotatedECG xmlns="urn:hl7-org:v3"><text>&xxe;</text></AnnotatedECG>"""

MALFORMED = {
    "xml bomb": (BOMB, "unsafe_xml", "refused for safety"),
    "external entity (XXE)": (XXE, "unsafe_xml", "refused for safety"),
    "truncated": (GOOD[: len(GOOD) // 2], "bad_xml", "invalid XML"),
    "wrong namespace": (GOOD.replace(b"urn:hl7-org:v3", b"urn:example:other", 1), "bad_aecg", "namespace"),
    "no waveform": (b'<AnnotatedECG xmlns="urn:hl7-org:v3"><id root="1"/></AnnotatedECG>', "empty_signal",
                    "no waveform"),
    "empty digits": (_aecg(_TIME + _lead("I", "  ")), "empty_signal", "lead I has no samples"),
    "non-numeric digit": (_aecg(_TIME + _lead("I", "1 2 x3 4")), "non_numeric", "lead I has a non-numeric"),
    "no sampling interval": (_aecg(_lead("I", "1 2 3")), "bad_aecg", "no sampling rate"),
    "zero sampling interval": (_aecg(_TIME.replace("0.002", "0") + _lead("I", "1 2 3")), "bad_aecg",
                               "not positive"),
    "leads of different lengths": (_aecg(_TIME + _lead("I", "1 2 3") + _lead("II", "1 2")), "bad_aecg",
                                   "differ in length"),
    "unknown amplitude unit": (_aecg(_TIME + _lead("I", "1 2 3", '<scale value="5" unit="furlong"/>')),
                               "bad_units", "unknown amplitude unit"),
    "zero scale": (_aecg(_TIME + _lead("I", "1 2 3", '<scale value="0" unit="uV"/>')), "bad_aecg", "scale is 0"),
    "an XML dialect not read": (b'<?xml version="1.0"?><CardioXML><waveforms/></CardioXML>',
                                "unsupported_xml", "root <CardioXML>"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_aecg_is_refused_with_a_message_naming_file_and_problem(case, assert_refused):
    data, code, words = MALFORMED[case]
    assert_refused(data, "upload.xml", code, words)


def test_a_good_minimal_file_reads_and_xml_that_is_not_an_ecg_is_not_csv(tmp_path):
    rec = load_record(GOOD, name="g.xml")
    assert rec.fs == 500.0 and rec.leads == ("I", "II") and rec.signal.shape == (2, 1200)
    np.testing.assert_allclose(rec.signal[0, :2], [0.05, -0.1], atol=1e-7)
    p = tmp_path / "notes.csv"
    p.write_bytes(b"<html><body>hello</body></html>")
    with pytest.raises(ECGScopeError, match="root <html>"):
        load_record(p)

