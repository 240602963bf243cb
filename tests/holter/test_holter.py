"""Long recordings in chunks, on real MIT-BIH records: every beat once across chunk borders, flat stretches and gaps
reported as unanalysable (never as asystole), a real pause found, a truncated file analysed up to its damage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgscope.datasets.mitdb import read_beat_annotations
from ecgscope.errors import MissingInputError
from ecgscope.evaluate.fiducials import score_beats
from ecgscope.holter import HOLTER_SCHEMA_VERSION, HolterOptions, holter_analyze

GAIN = 200.0  # MIT-BIH's ADC gain (adu/mV)


def _write(directory: Path, name: str, digital: np.ndarray, fs: float = 360.0) -> Path:
    """A 2-lead format-16 WFDB record of ``digital`` (n_leads, n) adu; -32768 marks invalid samples (gaps)."""
    directory.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(name, fs=fs, units=["mV", "mV"], sig_name=["ch1", "ch2"], d_signal=digital.T.astype(np.int16),
                fmt=["16", "16"], adc_gain=[GAIN, GAIN], baseline=[0, 0], write_dir=str(directory))
    return directory / f"{name}.hea"


@pytest.fixture(scope="module")
def mitdb_digital(data_dir):
    """Records 100 and 101 as adu (2 x 650000 each, 30 min at 360 Hz)."""
    out = []
    for rid in ("100", "101"):
        rec = wfdb.rdrecord(str(data_dir / "mitdb" / rid), physical=False)
        out.append(rec.d_signal.T.astype(np.int64) - np.asarray(rec.baseline)[:, None])
    return out


def test_chunk_borders_keep_every_beat_once_and_match_the_reference(data_dir):
    base = data_dir / "mitdb" / "100"
    ref = read_beat_annotations(str(base)).beat_samples
    small = holter_analyze(base, HolterOptions(chunk_s=60.0))  # 30 chunk borders
    whole = holter_analyze(base, HolterOptions(chunk_s=2000.0))  # one chunk
    p = small.peaks
    assert np.all(np.diff(p) > 0.25 * 360)  # no beat twice at a border
    s = score_beats(ref, p, 360.0, skip_s=0)
    assert s.tp / (s.tp + s.fn) > 0.995 and s.tp / (s.tp + s.fp) > 0.995, s
    w = score_beats(whole.peaks, p, 360.0, skip_s=0)
    assert w.fn + w.fp <= 3  # chunking changes almost nothing
    d = small.to_dict()
    assert d["holter_schema_version"] == HOLTER_SCHEMA_VERSION and d["beats"]["total"] == len(p)
    assert d["unanalysable"] == [] and d["truncated"] is None and d["pauses"]["count"] == 0
    assert 70 < d["heart_rate"]["mean_bpm"] < 80 and d["hrv"]["sdnn_ms"] > 0
    json.dumps(d)  # plain JSON


def test_a_flat_stretch_and_a_gap_are_unanalysable_never_a_pause(mitdb_digital, tmp_path):
    x = np.concatenate(mitdb_digital, axis=1)  # an hour of real ECG
    fs = 360
    x[:, 1200 * fs:1800 * fs] = 0  # 10 minutes flat: a recorder writing zeros
    x[:, 2400 * fs:2520 * fs] = -32768  # 2 minutes the file marks invalid
    hea = _write(tmp_path, "hour", x)
    d = holter_analyze(hea, HolterOptions(chunk_s=300.0)).to_dict()
    spans = d["unanalysable"]
    flat = [s for s in spans if s["reason"] == "flat"]
    gap = [s for s in spans if s["reason"] == "gap"]
    assert len(flat) == 1 and flat[0]["start_s"] == pytest.approx(1200, abs=10)
    assert flat[0]["end_s"] == pytest.approx(1800, abs=10)
    assert len(gap) == 1 and gap[0]["start_s"] == pytest.approx(2400, abs=10) and gap[0]["end_s"] == pytest.approx(
        2520, abs=10)
    assert d["pauses"]["count"] == 0  # neither stretch is asystole
    assert d["input"]["analysed_s"] == pytest.approx(3611 - 600 - 120, abs=25)
    res = holter_analyze(hea)
    t = res.peaks / fs
    assert not ((t > 1205) & (t < 1795)).any() and not ((t > 2405) & (t < 2515)).any()
    assert [h["hour"] for h in d["heart_rate"]["per_hour"]] == [0, 1]
    af = d["atrial_fibrillation"]  # AF windows touching the flat stretch or the gap are not called
    assert af["windows"] == 120 and af["windows_called"] == 120 - 20 - 4 and af["episodes"] == 0


def test_a_real_pause_is_found_where_it_is(mitdb_digital, tmp_path):
    x = mitdb_digital[0].copy()
    fs = 360
    from ecgscope.signal.peaks import ecg_peaks

    r = ecg_peaks(x.astype(np.float64) / GAIN, fs)
    i = np.searchsorted(r, 900 * fs)  # the first beat after 15 min
    cut = (r[i] + r[i + 1]) // 2
    level = x[:, cut:cut + 1]
    x = np.concatenate([x[:, :cut], np.repeat(level, int(2.5 * fs), axis=1), x[:, cut:]], axis=1)  # +2.5 s
    d = holter_analyze(_write(tmp_path, "pause", x)).to_dict()
    assert d["pauses"]["count"] == 1
    longest = d["pauses"]["longest"]
    assert longest["onset_s"] == pytest.approx(r[i] / fs, abs=0.05)
    assert longest["duration_s"] == pytest.approx((r[i + 1] - r[i]) / fs + 2.5, abs=0.05)
    assert d["unanalysable"] == []  # 2.5 s of baseline inside a 10-s window with beats is analysable


def test_a_truncated_file_is_analysed_up_to_its_damage(mitdb_digital, tmp_path):
    hea = _write(tmp_path, "cut", mitdb_digital[0])
    dat = hea.with_suffix(".dat")
    data = dat.read_bytes()
    dat.write_bytes(data[: int(len(data) * 0.6)])
    d = holter_analyze(hea).to_dict()
    assert d["truncated"]["header_s"] == pytest.approx(1805.6, abs=0.1)
    assert d["truncated"]["readable_s"] == pytest.approx(1805.6 * 0.6, abs=1)
    assert d["truncated"]["stops_at"] == "00:18:03"
    assert any("truncated" in w and "00:18:03" in w for w in d["warnings"])
    assert d["beats"]["total"] == pytest.approx(2271 * 0.6, rel=0.03)


def test_no_signal_at_all_says_so_and_the_cli_reports(tmp_path, capsys):
    from ecgscope.cli import main

    hea = _write(tmp_path, "flat", np.zeros((2, 360 * 600), np.int64))
    d = holter_analyze(hea).to_dict()
    assert d["beats"]["total"] == 0 and d["heart_rate"]["mean_bpm"] is None
    assert d["warnings"] == ["no analysable signal: every window is flat or a gap"]
    assert d["unanalysable"] == [{"start_s": 0.0, "end_s": 600.0, "reason": "flat"}]
    assert main(["holter", str(hea), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == d["warnings"]
    assert main(["holter", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(MissingInputError):
        holter_analyze(tmp_path / "missing")
    edf = tmp_path / "day.edf"
    edf.write_bytes(b"0       ")
    assert main(["holter", str(edf)]) == 2
    err = capsys.readouterr().err
    assert "day.edf" in err and "not an EDF/BDF file" in err
    csv = tmp_path / "day.csv"
    csv.write_text("I\n0.1\n")
    assert main(["holter", str(csv)]) == 2
    assert "WFDB records (.hea + .dat) and EDF/BDF" in capsys.readouterr().err


def test_beat_classes_runs_and_couplets_in_the_report(data_dir):
    # MIT-BIH 119 (ventricular bigeminy/trigeminy) read in 10-min chunks; the classifier was trained on this
    # record, so this checks the wiring through chunks, not generalisation (benchmarks/beat_classes_mitdb.py)
    res = holter_analyze(data_dir / "mitdb" / "119", HolterOptions(chunk_s=600.0))
    c = res.to_dict()["beats"]["classes"]
    assert sum(c["counts"].values()) == res.to_dict()["beats"]["total"] == res.classes.size
    ann = read_beat_annotations(str(data_dir / "mitdb" / "119"))
    assert abs(c["counts"]["V"] - int((ann.beat_symbols == "V").sum())) <= 10
    assert sum(h["V"] for h in c["per_hour"]) == c["counts"]["V"]
    assert c["ventricular"]["runs"] == 0 and "timing_ms" in res.to_dict()
    json.dumps(c)


def test_ectopic_runs_stop_at_an_unanalysable_gap():
    from ecgscope.holter.analysis import _ectopic_runs

    t = np.arange(20) * 0.5
    v = np.zeros(20, bool)
    v[[2, 3]] = True  # a couplet
    v[[6, 7, 8, 9]] = True  # a run of 4 ...
    v[[12, 13, 14]] = True  # ... and one of 3 that a gap splits into a single beat and a second couplet
    valid = np.ones(19, bool)
    valid[12] = False  # the interval 12 -> 13 spans unanalysable signal
    r = _ectopic_runs(HolterOptions(), t, valid, v)
    assert r["couplets"] == 2 and r["runs"] == 1 and r["longest_run"] == {"onset_s": 3.0, "beats": 4,
                                                                            "rate_bpm": 120.0}


def test_af_episodes_and_burden_in_the_report(data_dir):
    # CPSC 2021 data_84_1: persistent AF, 2 leads (I, II) at 200 Hz; MIT-BIH 100: sinus rhythm.  The AF detector
    # learned on CinC 2017 only
    af = holter_analyze(data_dir / "cpsc2021_sample" / "data_84_1").to_dict()["atrial_fibrillation"]
    assert af["lead"] == "I" and af["episodes"] >= 1 and af["burden_percent"] > 75  # 84 %: the record is split
    assert af["longest"]["duration_s"] > 200 and af["total_s"] > 400
    sinus = holter_analyze(data_dir / "mitdb" / "100").to_dict()["atrial_fibrillation"]
    assert sinus["lead"] == "MLII" and sinus["episodes"] == 0 and sinus["burden_percent"] == 0.0


def test_a_record_in_memory_is_analysed_as_its_file_is(data_dir):
    """An upload of any format arrives as a Record: read chunk by chunk from memory, it gives the report of the
    same record read from its WFDB files (the reader only names MLII as II)."""
    from ecgscope.io import load_record

    from_file = holter_analyze(data_dir / "mitdb" / "106").to_dict()
    from_memory = holter_analyze(load_record(data_dir / "mitdb" / "106")).to_dict()
    for d in (from_file, from_memory):
        d.pop("timing_ms")
        d["input"].pop("leads")
        d["atrial_fibrillation"].pop("lead")
    assert from_memory == from_file


def test_an_edf_day_is_read_in_chunks_as_its_wfdb_twin_and_a_truncated_one_up_to_its_damage(data_dir, tmp_path):
    """MIT-BIH 106 written as EDF (16-bit): read data record by data record, never whole, it gives the beats and
    classes of the WFDB original; the same file cut short is analysed up to where it ends."""
    from ecgscope.io import load_record
    from ecgscope.io.edf_format import edf_extent, read_edf_segment, write_edf

    rec = load_record(data_dir / "mitdb" / "106")
    edf = write_edf(rec, tmp_path / "106.edf")
    ext = edf_extent(edf)
    assert (ext.fs, ext.leads) == (360.0, ("II", "V1"))
    assert 0 <= ext.readable_samples - rec.n_samples < 360  # the writer fills the last 1-s data record
    part = read_edf_segment(edf, 100_000, 103_600)
    assert np.abs(part - rec.signal[:, 100_000:103_600]).max() < 1e-3  # 16-bit quantisation only
    wf = holter_analyze(data_dir / "mitdb" / "106")
    ed = holter_analyze(edf)
    # the same beats, but for one the original's last samples end too soon to show (the EDF's filled record has it)
    body = ed.peaks < rec.n_samples - 360
    assert np.array_equal(ed.peaks[body], wf.peaks[wf.peaks < rec.n_samples - 360])
    assert (ed.classes[body] != wf.classes[wf.peaks < rec.n_samples - 360]).sum() <= 5
    assert ed.to_dict()["input"]["source"] == "106.edf"
    data = edf.read_bytes()
    cut = tmp_path / "cut.edf"
    cut.write_bytes(data[: len(data) // 3])
    d = holter_analyze(cut).to_dict()
    assert d["truncated"]["header_s"] == pytest.approx(1805.6, abs=1) and d["truncated"]["readable_s"] < 610
    assert any("ends at" in w for w in d["warnings"]) and d["beats"]["total"] > 500
    with pytest.raises(Exception, match="outside"):
        read_edf_segment(cut, 0, rec.n_samples)
