"""Hybrid models: in-network signal statistics on real PTB-XL records, standardisation, bundles, ONNX."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgscope.datasets import open_dataset
from ecgscope.labels import label_index
from ecgscope.models import create_model, save_bundle
from ecgscope.signal.contract import InputContract, Preprocessor

N_EACH = 16
CONTRACT = InputContract(fs=100.0, window_samples=1000)


@pytest.fixture(scope="module")
def windows(data_dir):
    """10-s 12-lead model windows of real PTB-XL records: AF, sinus rhythm, poor data quality, clean."""
    ds = open_dataset("ptbxl100", data_dir)
    y = ds.labels.to_numpy(np.float32)
    sr, af, noisy = (y[:, label_index(n)] == 1 for n in ("Sinus rhythm", "Atrial fibrillation", "Poor data quality"))
    pre = Preprocessor(CONTRACT)

    def load(mask: np.ndarray) -> np.ndarray:
        rows = np.flatnonzero(mask)[:N_EACH]
        return np.stack([pre(ds.load(int(r))).windows[0] for r in rows]).astype(np.float32)

    return {"af": load(af & ~sr), "sinus": load(sr & ~af & ~noisy), "noisy": load(noisy & sr)}


def test_statistics_separate_rhythm_and_noise_on_real_records(windows):
    model = create_model("ssm_hybrid")
    stats = model.stats
    per_lead = stats.PER_LEAD
    raw = {k: stats.raw(torch.as_tensor(v)).numpy() for k, v in windows.items()}
    regularity = {k: v[:, -2] for k, v in raw.items()}  # max envelope autocorrelation over RR lags
    assert np.median(regularity["af"]) < np.median(regularity["sinus"]) - 0.1
    # relative first-difference energy, averaged over leads: noise raises it
    hf = {k: v[:, : 12 * per_lead].reshape(len(v), 12, per_lead)[:, :, 0].mean(axis=1) for k, v in raw.items()}
    assert np.median(hf["noisy"]) > np.median(hf["sinus"])
    assert all(np.isfinite(v).all() for v in raw.values())


def test_fit_standardises_and_survives_a_bundle_round_trip(windows, tmp_path):
    torch.manual_seed(0)
    model = create_model("resnet1d_small_hybrid", num_classes=3)
    assert not model.is_fitted
    x = np.concatenate(list(windows.values()))
    model.fit_data(x)
    assert model.is_fitted
    z = model.stats(torch.as_tensor(x)).numpy()
    varying = model.stats.raw(torch.as_tensor(x)).numpy().std(axis=0, ddof=1) > 1e-3
    assert np.allclose(z[:, varying].mean(axis=0), 0.0, atol=1e-3)
    assert np.allclose(z[:, varying].std(axis=0, ddof=1), 1.0, atol=1e-2)
    model.eval()
    path = save_bundle(model, tmp_path / "hybrid.pt", task="ptbxl17")
    again = create_model("resnet1d_small_hybrid", pretrained=path).eval()
    assert again.is_fitted
    with torch.no_grad():
        assert torch.allclose(model(torch.as_tensor(x)), again(torch.as_tensor(x)), atol=1e-6)


def test_statistics_reach_the_head_and_the_backbone_is_wrapped():
    torch.manual_seed(0)
    model = create_model("ssm_hybrid", num_classes=4)
    inner = model.backbone
    assert model.num_features == inner.num_features + model.stats.num_features
    feats = model.forward_features(torch.randn(2, 12, 500))
    assert feats.shape[-1] == model.num_features
    # the statistics are the same on every token (appended after the backbone, pooled by the head)
    extra = feats[..., inner.num_features:]
    assert torch.equal(extra[:, :1].expand_as(extra), extra)
    assert {id(p) for g in model.layer_groups() for p in g} == {id(p) for p in inner.parameters()}


def test_onnx_export_matches_torch(windows, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from ecgscope.inference.backends import export_onnx

    torch.manual_seed(0)
    model = create_model("resnet1d_small_hybrid")
    model.pretrained_cfg = model.pretrained_cfg.replace(input_contract=CONTRACT)
    x = np.concatenate(list(windows.values()))
    model.fit_data(x)
    model.eval()
    bundle = save_bundle(model, tmp_path / "hybrid.pt", task="ptbxl17")
    onnx_path = tmp_path / "hybrid.onnx"
    export_onnx(bundle, onnx_path)
    sess = ort.InferenceSession(str(onnx_path))
    got = sess.run(None, {sess.get_inputs()[0].name: x[:8]})[0]
    with torch.no_grad():
        want = model(torch.as_tensor(x[:8])).numpy()
    assert np.abs(got - want).max() <= 1e-4


def test_constant_statistics_are_not_amplified(windows):
    """A copied single lead makes the lead correlations constant: they get scale 1, not 1/1e-3."""
    torch.manual_seed(0)
    model = create_model("resnet1d_small_hybrid")
    one = np.repeat(np.concatenate(list(windows.values()))[:, :1], 12, axis=1)
    model.fit_data(one)
    c = model.stats.in_chans
    pairs = slice(model.stats.PER_LEAD * c, model.stats.PER_LEAD * c + c * (c - 1) // 2)
    assert torch.all(model.stats.std[pairs] == 1.0)
    z = model.stats(torch.as_tensor(one) * (1 + 1e-6)).numpy()
    assert np.abs(z[:, pairs]).max() < 1e-3
