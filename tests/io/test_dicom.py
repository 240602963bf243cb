"""DICOM ECG waveforms: a real public sample, write-then-read on real records (pydicom reads ours), malformed
objects refused by name."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

from ecgscope.io import load_record, save_record

SAMPLE = Path(__file__).parents[1] / "fixtures" / "dicom" / "waveform_ecg.dcm"  # pydicom's test data (MIT)


def test_the_public_sample_reads_to_its_leads_rate_duration_and_amplitudes():
    rec = load_record(SAMPLE)
    assert rec.source_format == "dicom" and rec.fs == 1000.0 and rec.duration_s == 10.0
    assert rec.leads == ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    # first stored values are 80, 90, 10 at 1.25 uV per unit (sensitivity x correction 1, baseline 0)
    np.testing.assert_allclose(rec.signal[:3, 0], [0.1, 0.1125, 0.0125], atol=1e-7)
    assert rec.units == "uV" and rec.gain[0] == pytest.approx(0.8)
    lead_i, lead_ii, lead_iii = (rec.signal[rec.leads.index(n)].astype(np.float64) for n in ("I", "II", "III"))
    assert np.abs(lead_iii - (lead_ii - lead_i)).max() <= 0.0026  # Einthoven, to two 1.25-uV roundings
    assert rec.patient_id == "642341" and rec.metadata["acquired"] == "20130125105919"
    assert rec.metadata["device"] == {"manufacturer": "Mortara Instrument, Inc.", "model": "el250"}
    assert rec.metadata["multiplex_group"] == "RHYTHM"  # not the median beats
    cart = {a.get("code"): a for a in rec.metadata["cart_annotations"]}
    assert cart["RR Interval"] == {"code": "RR Interval", "value": "982", "unit": "ms"}


def test_the_public_sample_is_analysed_end_to_end_and_agrees_with_the_cart(analyzed_by_cli):
    d = analyzed_by_cli(SAMPLE)
    assert d["model"]["name"] == "ecgscope-17-12lead" and d["input"]["fs"] == 1000.0
    # the cart measured RR 982 ms (61 bpm) on this ECG
    assert d["measurements"]["heart_rate_bpm"] == pytest.approx(60000 / 982, abs=4)


def test_write_then_read_is_exact_on_real_records_and_pydicom_alone_reads_it(data_dir, tmp_path):
    import pydicom

    from ecgscope.datasets import open_dataset

    ds = open_dataset("ptbxl", data_dir)
    for i in (0, 1, 2):
        rec = ds.load(i)
        path = save_record(rec, tmp_path / f"r{i}.dcm")
        back = load_record(path)
        assert back.leads == rec.leads and back.fs == rec.fs
        np.testing.assert_array_equal(back.signal, rec.signal)
        obj = pydicom.dcmread(path)
        assert obj.SOPClassUID.name == "12-lead ECG Waveform Storage"
        np.testing.assert_allclose(obj.waveform_array(0).T / 1000.0, rec.signal, atol=1e-6)  # uV -> mV


def test_a_long_or_odd_record_is_written_as_general_ecg(tmp_path):
    import pydicom

    from ecgscope.record import Record

    rng = np.random.default_rng(0)
    rec = Record(rng.normal(0, 1.5, (2, 360 * 30)), fs=360, leads=("II", "V1"), record_id="x")
    path = save_record(rec, tmp_path / "long.dcm")
    assert pydicom.dcmread(path).SOPClassUID.name == "General ECG Waveform Storage"
    back = load_record(path)
    assert back.leads == ("II", "V1") and back.fs == 360.0
    assert np.abs(back.signal - rec.signal).max() <= 0.0005 + 1e-6  # 1-uV step: half a step


def _mutate(fn) -> bytes:
    import pydicom

    ds = pydicom.dcmread(SAMPLE)
    fn(ds)
    out = BytesIO()
    ds.save_as(out)
    return out.getvalue()


def _no_waveform(ds):
    del ds.WaveformSequence


def _lying_channels(ds):
    ds.WaveformSequence[0].NumberOfWaveformChannels = 13


def _short_data(ds):
    ds.WaveformSequence[0].WaveformData = ds.WaveformSequence[0].WaveformData[:1000]


def _bad_units(ds):
    ds.WaveformSequence[0].ChannelDefinitionSequence[0].ChannelSensitivityUnitsSequence[0].CodeValue = "furlong"


def _zero_rate(ds):
    ds.WaveformSequence[0].SamplingFrequency = "0"


MALFORMED = {
    "not DICOM at all": (b"I,II\n1,2\n" * 20, "content_mismatch", "not DICOM"),
    # cut inside the header: what is left is a DICOM object without its waveform
    "truncated file": (SAMPLE.read_bytes()[:600], "empty_signal", "no waveform module"),
    "no waveform module": (_no_waveform, "empty_signal", "no waveform module"),
    "multiplex group of the wrong shape": (_lying_channels, "bad_dicom", "13 channels"),
    "waveform data shorter than declared": (_short_data, "truncated", "need"),
    "unknown sensitivity unit": (_bad_units, "bad_units", "unknown sensitivity unit"),
    "zero sampling frequency": (_zero_rate, "bad_dicom", "not plausible"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_dicom_is_refused_with_a_message_naming_file_and_problem(case, assert_refused):
    data, code, words = MALFORMED[case]
    assert_refused(data if isinstance(data, bytes) else _mutate(data), "upload.dcm", code, words)
