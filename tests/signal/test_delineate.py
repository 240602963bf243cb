"""PQRST delineation on real LUDB/PTB-XL records: accuracy on held-out records, beat consistency,
window conventions, both methods, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.datasets import open_dataset
from ecgscope.evaluate.fiducials import gross, score_fiducials
from ecgscope.record import Record
from ecgscope.signal import DELINEATION_METHODS, FIDUCIALS, ecg_delineate
from ecgscope.signal.resample import resample

REF = {"p_on": ("P", 0), "p_peak": ("P", 1), "p_off": ("P", 2), "qrs_on": ("QRS", 0), "r_peak": ("QRS", 1),
       "qrs_off": ("QRS", 2), "t_peak": ("T", 1), "t_off": ("T", 2)}



@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The delineator runs single-threaded (as measured); two xdist workers share two cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

@pytest.fixture(scope="module")
def ludb(data_dir):
    return open_dataset("ludb", data_dir)


@pytest.fixture(scope="module")
def test_rows(ludb):
    return np.flatnonzero(ludb.index["fold"].to_numpy() == 10)  # never used in training


def _score(ludb, i, d, leads=None, end=None):
    ann = ludb.annotations(int(i))
    out = {f: [] for f in FIDUCIALS}
    for lead in leads or d.leads:
        ref = {f: ann[lead][w][:, c] for f, (w, c) in REF.items()}
        if end is not None:  # a window: the waves that end inside it
            ref = {f: v[(v < end) & (ann[lead][REF[f][0]][:, 2] < end)] for f, v in ref.items()}
        skip = {f: ann[lead][w][ann[lead][w][:, c] < 0, 1] for f, (w, c) in REF.items()}
        for f, s in score_fiducials(ref, {f: d.samples(f, lead) for f in FIDUCIALS}, d.fs, ignore=skip).items():
            out[f].append(s)
    return {f: gross(v) for f, v in out.items()}


def _check_order(table: np.ndarray) -> None:
    """P_on < P_peak < P_off <= QRS_on < R < QRS_off < T_peak <= T_off < next beat's first wave."""
    f = {n: i for i, n in enumerate(FIDUCIALS)}
    for row in table:
        seq = [v for v in row[[f["p_on"], f["p_peak"], f["p_off"]]] if np.isfinite(v)]
        seq += list(row[[f["qrs_on"], f["r_peak"], f["qrs_off"]]])
        seq += [v for v in row[[f["t_peak"], f["t_off"]]] if np.isfinite(v)]
        assert np.all(np.diff(seq) >= 0), row
        assert row[f["p_off"]] <= row[f["qrs_on"]] if np.isfinite(row[f["p_off"]]) else True
    for a, b in zip(table[:-1], table[1:], strict=True):
        end = np.nanmax(a[[f["qrs_off"], f["t_off"]]])
        start = np.nanmin(b[[f["p_on"], f["qrs_on"]]])
        assert end < start


def test_learned_on_held_out_ludb_records(ludb, test_rows):
    tot = {f: [] for f in FIDUCIALS}
    for i in test_rows[::4]:  # 4 of the 16 test records, all 12 leads
        rec = ludb.load(int(i))
        for f, s in _score(ludb, i, ecg_delineate(rec)).items():
            tot[f].append(s)
    g = {f: gross(v) for f, v in tot.items()}
    assert g["qrs_on"].sensitivity > 0.98 and g["qrs_on"].ppv > 0.98
    assert g["qrs_off"].sensitivity > 0.98 and g["qrs_off"].ppv > 0.98
    assert g["qrs_on"].mean_abs_error_ms < 15 and g["qrs_off"].mean_abs_error_ms < 15
    assert g["t_off"].sensitivity > 0.9 and g["p_on"].ppv > 0.9


def test_beats_are_ordered_and_never_overlap(ludb, ptbxl_record):
    for rec in [ludb.load(i) for i in range(0, 160, 20)] + [ptbxl_record]:
        d = ecg_delineate(rec)
        assert d.n_beats >= 5
        _check_order(d.beats)
        for lead in rec.leads:
            t = d.table(lead)
            _check_order(t[np.isfinite(t[:, 3])])


def test_dict_matches_design_and_per_lead_access(ptbxl_record):
    d = ecg_delineate(ptbxl_record)
    out = d.to_dict()
    assert out["lead"] == "global" and len(out["beats"]) == d.n_beats
    assert all(set(b) == set(FIDUCIALS) for b in out["beats"])
    v1 = d.to_dict("V1")
    assert v1["lead"] == "V1" and len(v1["beats"]) == d.n_beats
    r = np.array([b["r_peak"] for b in out["beats"]])
    assert np.all(np.diff(r) > 200) and r.max() < 10_000  # ms from record start
    full = d.to_full_dict()
    assert set(full["per_lead"]) == set(ptbxl_record.leads) and full["method"] == "learned"


def test_atrial_fibrillation_has_no_p_waves(ludb):
    rows = np.flatnonzero(ludb.index["rhythm"].str.contains("fibrillation").to_numpy())
    n_p = n_beats = 0
    for i in rows[:4]:
        d = ecg_delineate(ludb.load(int(i)))
        n_p += int(np.isfinite(d.beats[:, 0]).sum())
        n_beats += d.n_beats
    assert n_beats > 30 and n_p <= 0.1 * n_beats


def test_single_lead_5s_window_and_other_rates(ludb, test_rows):
    i = int(test_rows[1])
    rec = ludb.load(i)
    win = rec.select_leads(["II"]).replace(signal=rec.signal[[1], : int(5 * rec.fs)])
    d = ecg_delineate(win)
    assert d.leads == ("II",) and d.n_beats >= 3
    s = _score(ludb, i, d, leads=["II"], end=win.n_samples)
    assert s["qrs_on"].sensitivity >= 0.9 and s["qrs_on"].ppv >= 0.9
    # the same record at 100 Hz (PTB-XL's low rate) and 360 Hz gives the same beats
    full = ecg_delineate(rec)
    for fs in (100.0, 360.0):
        other = ecg_delineate(resample(rec, fs))
        assert other.n_beats == full.n_beats
        assert np.nanmax(np.abs(other.beats[:, 4] - full.beats[:, 4])) < 25  # ms


@pytest.mark.parametrize("n_samples", [2500, 1251, 517])
def test_onnx_and_torch_runtimes_agree(n_samples):
    """The shipped ONNX graph is the PyTorch model: same logits at any length and lead count."""
    from ecgscope.signal.delineator_runtime import delineator_runtime

    rng = np.random.default_rng(n_samples)
    inp = rng.normal(size=(3, 2, n_samples)).astype(np.float32)
    a, b = delineator_runtime("onnx")(inp), delineator_runtime("torch")(inp)
    assert a.shape == b.shape == (3, 4, n_samples)
    assert np.abs(a - b).max() < 1e-4


def test_a_one_dimensional_onnx_graph_still_runs(tmp_path):
    """Graphs exported before the 2-D form (input (L, 2, T)) give the same logits as the shipped one."""
    import warnings

    import torch

    from ecgscope.signal.delineator_net import load_delineator
    from ecgscope.signal.delineator_runtime import OnnxDelineator, delineator_runtime

    model, _ = load_delineator()
    path = tmp_path / "delineator_1d.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(2, 2, 2500),), str(path), dynamo=False, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "l", 2: "t"}, "logits": {0: "l", 2: "t"}},
                          opset_version=17)
    inp = np.random.default_rng(0).normal(size=(4, 2, 1000)).astype(np.float32)
    old, shipped = OnnxDelineator(path), delineator_runtime("onnx")
    assert not old._two_d and shipped._two_d
    assert np.abs(old(inp) - shipped(inp)).max() < 1e-4


def test_sample_classes_match_argmax_and_softmax():
    from scipy.special import softmax

    from ecgscope.signal.delineator_runtime import sample_classes

    logits = np.random.default_rng(1).normal(scale=4, size=(5, 4, 300)).astype(np.float32)
    logits[0, 2, :10] = logits[0, 1, :10]  # ties go to the lower class, as argmax does
    labels, mean_prob = sample_classes(logits)
    assert labels.dtype == np.int8
    np.testing.assert_array_equal(labels, logits.argmax(axis=1))
    np.testing.assert_allclose(mean_prob, softmax(logits, axis=1).mean(axis=0), atol=1e-6)


def test_runtimes_delineate_a_real_record_alike(ptbxl_record):
    onnx, torch_ = (ecg_delineate(ptbxl_record, runtime=r) for r in ("onnx", "torch"))
    assert onnx.n_beats == torch_.n_beats > 5
    assert np.nanmax(np.abs(onnx.beats - torch_.beats)) <= 4.0 + 1e-9  # at most one 250 Hz sample
    assert np.array_equal(np.isfinite(onnx.beats), np.isfinite(torch_.beats))


def test_unknown_runtime_lists_the_valid_ones(ptbxl_record):
    with pytest.raises(ValueError, match="auto, onnx, torch"):
        ecg_delineate(ptbxl_record, runtime="tensorrt")


def test_neurokit_method_runs_per_lead(ptbxl_record):
    d = ecg_delineate(ptbxl_record.select_leads(["I", "II", "V2"]), method="neurokit")
    assert d.global_lead == "II" and d.to_dict()["lead"] == "II"
    assert d.n_beats >= 5 and set(d.per_lead) == {"I", "II", "V2"}
    assert set(DELINEATION_METHODS) == {"learned", "neurokit"}


def test_bad_input_gives_nulls_and_flags_not_exceptions(ptbxl_record):
    rng = np.random.default_rng(0)
    # a flat lead is left out, the others are delineated
    sig = ptbxl_record.signal.copy()
    sig[2] = 0.0
    d = ecg_delineate(ptbxl_record.replace(signal=sig))
    assert d.table("III").shape == (0, 8) and d.n_beats >= 5
    assert any("III: flatline" in i for i in d.issues)
    # 2 s of noise: no usable lead, no beats, a reason
    noise = Record(rng.normal(0, 1, (1, 1000)), fs=500, leads=["II"])
    d = ecg_delineate(noise)
    assert d.n_beats == 0 and d.to_dict()["beats"] == [] and any("no usable lead" in i for i in d.issues)
    # 50 Hz: R peaks only, every wave null, and the reason
    low = resample(ptbxl_record.select_leads(["II"]), 50.0)
    d = ecg_delineate(low)
    beats = d.to_dict()["beats"]
    assert len(beats) >= 5 and all(b["r_peak"] is not None and b["qrs_on"] is None for b in beats)
    assert any("below 100 Hz" in i for i in d.issues)
    for method in DELINEATION_METHODS:
        ecg_delineate(noise, method=method)
    with pytest.raises(ValueError, match="valid methods: learned, neurokit"):
        ecg_delineate(ptbxl_record, method="dwt")
