"""Readers and writers on real records: every dataset's format, exact round trips, uploads."""

from __future__ import annotations

import io
import json
import warnings
import zipfile

import numpy as np
import pyedflib
import pytest
import scipy.io
import wfdb

from ecgscope.io import UnitsInferredWarning, load_record, read_csv, save_record
from ecgscope.leads import STANDARD_LEADS


@pytest.mark.parametrize(
    ("rel", "fs", "n_leads", "duration"),
    [
        ("ptbxl/records500/00000/00002_hr", 500, 12, 10.0),  # FLAC WFDB, 2 signal files
        ("ptbxl/records100/00000/00002_lr.hea", 100, 12, 10.0),
        ("ludb/data/1.hea", 500, 12, 10.0),  # format 16
        ("mitdb/100", 360, 2, 650000 / 360),  # format 212
        ("cinc2017/A00006.mat", 300, 1, 30.0),  # Challenge .mat + .hea (format 16+24)
        ("cpsc2021_sample/data_101_6.hea", 200, 2, 22355 / 200),
    ],
)
def test_reads_every_wfdb_flavour(data_dir, rel, fs, n_leads, duration):
    rec = load_record(data_dir / rel)
    assert rec.fs == fs and rec.n_leads == n_leads
    assert rec.duration_s == pytest.approx(duration)
    assert rec.source_format == "wfdb"
    assert np.isfinite(rec.signal).all()
    assert 0.05 < np.percentile(np.abs(rec.signal), 99) < 10  # millivolts


def test_wfdb_values_match_wfdb_package(ptbxl_hr, ptbxl_record):
    ref = wfdb.rdrecord(str(ptbxl_hr)).p_signal.T
    np.testing.assert_allclose(ptbxl_record.signal, ref, atol=1e-6)
    assert ptbxl_record.leads == STANDARD_LEADS
    assert ptbxl_record.gain == (1000.0,) * 12


def test_header_demographics(data_dir):
    ludb = load_record(data_dir / "ludb" / "data" / "1")
    assert (ludb.age, ludb.sex) == (51.0, "F")
    assert "Rhythm: Sinus bradycardia." in ludb.metadata["diagnoses"]
    mit = load_record(data_dir / "mitdb" / "100")
    assert (mit.age, mit.sex) == (69.0, "M")


def test_cpsc2019_mat_with_fs(data_dir):
    rec = load_record(data_dir / "cpsc2019_sample" / "data" / "data_00014.mat", fs=500)
    assert rec.source_format == "mat" and rec.n_samples == 5000 and rec.leads == ("I",)


@pytest.mark.parametrize("fmt", ["wfdb", "csv", "json"])
@pytest.mark.parametrize("rel", ["ptbxl/records500/00000/00002_hr", "mitdb/100", "cinc2017/A00006", "ludb/data/7"])
def test_round_trip_is_exact(data_dir, tmp_path, fmt, rel):
    rec = load_record(data_dir / rel)
    if rec.n_samples > 100_000:
        rec = rec.replace(signal=rec.signal[:, :100_000])
    ext = {"wfdb": ".hea", "csv": ".csv", "json": ".json"}[fmt]
    written = save_record(rec, tmp_path / f"out{ext}", format=fmt)
    back = load_record(written)
    np.testing.assert_array_equal(back.signal, rec.signal)
    assert back.fs == rec.fs and back.leads == rec.leads
    assert (back.age, back.sex) == (rec.age, rec.sex)


def test_edf_round_trip_within_quantisation(data_dir, tmp_path):
    rec = load_record(data_dir / "ludb" / "data" / "3")
    back = load_record(save_record(rec, tmp_path / "x.edf"))
    assert back.leads == rec.leads and back.fs == rec.fs
    step = np.ptp(rec.signal, axis=1, keepdims=True) * 1.03 / 65535
    assert (np.abs(back.signal - rec.signal) <= step + 2e-3).all()


def test_edf_keeps_ecg_channels_at_common_rate(data_dir, tmp_path):
    rec = load_record(data_dir / "ludb" / "data" / "3")
    path = tmp_path / "psg.edf"
    headers = [
        {"label": "ECG I", "dimension": "uV", "sample_frequency": 500, "physical_min": -5000, "physical_max": 5000,
         "digital_min": -32768, "digital_max": 32767, "transducer": "", "prefilter": ""},
        {"label": "ECG II", "dimension": "uV", "sample_frequency": 500, "physical_min": -5000, "physical_max": 5000,
         "digital_min": -32768, "digital_max": 32767, "transducer": "", "prefilter": ""},
        {"label": "Resp", "dimension": "uV", "sample_frequency": 25, "physical_min": -500, "physical_max": 500,
         "digital_min": -32768, "digital_max": 32767, "transducer": "", "prefilter": ""},
    ]
    sigs = [rec.lead("I") * 1000.0, rec.lead("II") * 1000.0, np.sin(np.arange(250) / 10) * 100]
    pyedflib.highlevel.write_edf(str(path), [s.astype(np.float64) for s in sigs], headers)
    back = load_record(path)
    assert back.leads == ("I", "II") and back.fs == 500
    assert back.metadata["dropped_channels"] == ["Resp"]
    np.testing.assert_allclose(back.lead("I"), rec.lead("I"), atol=2e-3)  # uV -> mV


def test_challenge_format_with_dx(data_dir, tmp_path):
    """A CinC 2020/21 style record (.mat v4 'val' + .hea with Dx) built from a real PTB-XL record."""
    rec = load_record(data_dir / "ptbxl" / "records500" / "00000" / "00002_hr")
    digital = np.round(rec.signal * 1000).astype(np.int16)
    scipy.io.savemat(tmp_path / "A0001.mat", {"val": digital}, format="4")
    lines = [f"A0001 12 500 {rec.n_samples}"]
    for i, lead in enumerate(rec.leads):
        lines.append(f"A0001.mat 16+24 1000/mV 16 0 {digital[i, 0]} 0 0 {lead}")
    lines += ["#Age: 74", "#Sex: Male", "#Dx: 426177001,59118001", "#Rx: Unknown"]
    (tmp_path / "A0001.hea").write_text("\n".join(lines) + "\n")
    back = load_record(tmp_path / "A0001.mat")
    np.testing.assert_array_equal(back.signal, rec.signal)
    assert (back.age, back.sex) == (74.0, "M")
    assert back.metadata["dx"] == ["426177001", "59118001"]

    from ecgscope.datasets import ChallengeFolder
    from ecgscope.labels import LABELS

    ds = ChallengeFolder(tmp_path)
    lab = dict(zip(LABELS, ds.labels.iloc[0], strict=True))
    assert lab["Bradycardia"] == 1 and lab["Right bundle branch block"] == 1 and lab["Sinus rhythm"] == 1
    assert lab["Atrial fibrillation"] == 0


def test_multi_segment_wfdb(data_dir, tmp_path):
    rec = load_record(data_dir / "ludb" / "data" / "5").select_leads(["I", "II"])
    half = rec.n_samples // 2
    for k, part in enumerate((rec.signal[:, :half], rec.signal[:, half:])):
        wfdb.wrsamp(f"seg{k}", fs=500, units=["mV", "mV"], sig_name=["I", "II"],
                    d_signal=np.round(part.T * 1000).astype(np.int16), fmt=["16", "16"], adc_gain=[1000, 1000],
                    baseline=[0, 0], write_dir=str(tmp_path))
    (tmp_path / "multi.hea").write_text(f"multi/2 2 500 {rec.n_samples}\nseg0 {half}\nseg1 {rec.n_samples - half}\n")
    back = load_record(tmp_path / "multi.hea")
    np.testing.assert_allclose(back.signal, rec.signal, atol=0.5e-3 + 1e-6)  # re-quantised at 1 µV


def test_bytes_mapping_and_zip_inputs(data_dir, tmp_path):
    ludb = data_dir / "ludb" / "data"
    ref = load_record(ludb / "1")
    files = {"1.hea": (ludb / "1.hea").read_bytes(), "1.dat": (ludb / "1.dat").read_bytes()}
    np.testing.assert_array_equal(load_record(files).signal, ref.signal)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"some/folder/{name}", data)
    np.testing.assert_array_equal(load_record(buf.getvalue(), name="upload.zip").signal, ref.signal)
    csv_bytes = save_record(ref, tmp_path / "r.csv").read_bytes()
    np.testing.assert_array_equal(load_record(csv_bytes).signal, ref.signal)
    js = save_record(ref, tmp_path / "r.json").read_bytes()
    np.testing.assert_array_equal(load_record(js, name="r.json").signal, ref.signal)
    npz = io.BytesIO()
    np.savez(npz, signal=ref.signal, fs=500.0, leads=np.array(ref.leads))
    np.testing.assert_array_equal(load_record(npz.getvalue()).signal, ref.signal)


def test_json_lead_keyed_variant(ptbxl_record):
    obj = {"fs": 500, "units": "uV",
           "signal": {lead: (ptbxl_record.lead(lead) * 1000).tolist() for lead in ("I", "II", "V1")}}
    rec = load_record(json.dumps(obj).encode())
    assert rec.leads == ("I", "II", "V1") and rec.units == "uV"
    np.testing.assert_allclose(rec.lead("V1"), ptbxl_record.lead("V1"), atol=1e-5)


def test_csv_units_in_header_and_inferred(ptbxl_record):
    sig = ptbxl_record.signal[:2] * 1000
    body = "\n".join(",".join(f"{v:.1f}" for v in row) for row in sig.T)
    rec = read_csv(f"# fs=500\nI (uV),II (uV)\n{body}\n".encode())
    assert rec.units == "uV"
    np.testing.assert_allclose(rec.signal, ptbxl_record.signal[:2], atol=1e-4)
    with pytest.warns(UnitsInferredWarning, match="assuming uV"):
        rows = "\n".join(f"{2 * i},{row}" for i, row in enumerate(body.splitlines()))
        rec = read_csv(f"time_ms,I,II\n{rows}\n".encode())
    assert rec.fs == pytest.approx(500) and "inferred uV" in rec.metadata["warnings"][0]


def test_no_warning_when_units_stated(ptbxl_record, tmp_path):
    path = save_record(ptbxl_record, tmp_path / "x.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_record(path)


def test_upload_errors_name_the_upload_not_the_staging_dir(data_dir):
    from ecgscope.errors import ECGScopeError

    ludb = data_dir / "ludb" / "data"
    header_only = {"1.hea": (ludb / "1.hea").read_bytes(), "other.dat": b"\0" * 100}
    with pytest.raises(ECGScopeError) as exc:
        load_record(header_only, name="1.hea, other.dat")
    assert exc.value.code == "missing_data_file" and exc.value.http_status == 422
    assert exc.value.source == "1.hea, other.dat" and "ecgscope-" not in str(exc.value)
    truncated = {"1.hea": (ludb / "1.hea").read_bytes(), "1.dat": (ludb / "1.dat").read_bytes()[:1000]}
    with pytest.raises(ECGScopeError) as exc:
        load_record(truncated, name="upload")
    assert exc.value.code == "truncated_data" and exc.value.source == "upload"
    assert "/tmp" not in str(exc.value)


def test_csv_rate_from_float_time_stamps_is_exact():
    """Time stamps accumulated in floating point give 250 Hz, not 249.99999999999977 (which later code
    would treat as a different rate)."""
    t = np.cumsum(np.full(2500, 1 / 250.0)) - 1 / 250.0
    rows = "\n".join(f"{float(a)!r},{np.sin(7 * a):.4f}" for a in t)
    rec = load_record(("time_s,II\n" + rows).encode(), format="csv", units="mV")
    assert rec.fs == 250.0


def test_resampling_between_rates_equal_up_to_float_noise_is_identity():
    from ecgscope.signal.resample import resample_array

    x = np.random.default_rng(0).normal(size=(2, 1000)).astype(np.float32)
    np.testing.assert_array_equal(resample_array(x, 249.99999999999977, 250.0), x)
