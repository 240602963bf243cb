"""CardioMorph: fitted MiniRocket kernels travel with the model; streams, fusion and pooling.

One fitted model is shared by the module (MiniRocket JIT-compiles once per run, ~20 s).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgscope.datasets import open_dataset
from ecgscope.datasets.prepared import prepare
from ecgscope.errors import ContractError
from ecgscope.models import create_model, save_bundle
from ecgscope.models.backbones.cardiomorph import rhythm_descriptors

pytestmark = [pytest.mark.xdist_group("cardiomorph"), pytest.mark.slow]


@pytest.fixture(scope="module")
def windows(data_dir):
    """Sixteen real 5-s PTB-XL windows at 100 Hz, per-lead z-scored (CardioMorph's contract)."""
    model = create_model("cardiomorph")
    ds = open_dataset("ptbxl100", data_dir)
    ps = prepare(ds, model.pretrained_cfg.input_contract, np.arange(8))
    return np.concatenate([ps.windows(k) for k in range(8)]).astype(np.float32)  # (16, 12, 500)


@pytest.fixture(scope="module")
def fitted(windows):
    torch.manual_seed(0)
    model = create_model("cardiomorph", num_classes=17, n_minirocket_features=840)
    return model.fit_data(windows)


def test_unfitted_model_says_so():
    model = create_model("cardiomorph", n_minirocket_features=168)
    assert model.requires_fit and not model.is_fitted
    with pytest.raises(ContractError, match="fit_data"):
        model(torch.zeros(1, 12, 500))


def test_forward_backward_and_shapes(fitted, windows):
    x = torch.from_numpy(windows[:4])
    fitted.train()
    out = fitted(x)
    assert out.shape == (4, 17) and torch.isfinite(out).all()
    out.sum().backward()
    assert fitted.stem[0].weight.grad is not None and fitted.morph_proj[2].weight.grad is not None
    assert fitted.rhythm_proj[0].weight.grad is not None
    fitted.zero_grad()
    fitted.eval()
    with torch.no_grad():
        inter = fitted.forward_intermediates(x)
    assert len(inter) == len(fitted.layer_dims) == 3
    assert all(t.shape == (4, 63, 128) for t in inter)  # 500 samples, stride 8
    assert fitted.head.pool.__class__.__name__ == "PowerMeanPool" and fitted.head.pool.q == 3.0


def test_minirocket_fit_is_deterministic_and_saved(fitted, windows, tmp_path):
    again = create_model("cardiomorph", num_classes=17, n_minirocket_features=840).fit_data(windows)
    for name in ("dilations", "biases", "channel_indices", "n_channels_per_combination"):
        assert torch.equal(getattr(again.morph, name), getattr(fitted.morph, name)), name
    assert fitted.morph.biases.numel() == 840
    state = np.random.get_state()[1][:5].copy()  # noqa: NPY002 - checking aeon leaves the global generator alone
    create_model("cardiomorph", n_minirocket_features=168).fit_data(windows)
    assert np.array_equal(np.random.get_state()[1][:5], state)  # noqa: NPY002
    path = save_bundle(fitted.eval(), tmp_path / "cm.pt")
    loaded = create_model("cardiomorph", pretrained=path).eval()
    assert loaded.is_fitted
    x = torch.from_numpy(windows[:3])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), fitted.eval()(x), rtol=0, atol=0)


def test_rhythm_descriptors_from_real_windows(windows):
    r = rhythm_descriptors(windows[:4], 100.0)
    assert r.shape == (4, 15) and np.isfinite(r).all()
    hr = r[:, 0] * 100
    assert ((hr > 30) & (hr < 200)).all()  # heart rates of real PTB-XL records
    assert (r[:, 7] == 1).all()  # heart rate measured in every window
    flat = rhythm_descriptors(np.zeros((1, 12, 500), np.float32), 100.0)
    assert flat[0, :14].sum() == 0  # nothing measurable, nothing invented


def test_power_mean_pool_is_stable_on_large_activations(fitted, windows):
    x = torch.from_numpy(windows[:2])
    with torch.no_grad():
        feats = fitted.forward_features(x) * 1e4
        pooled = fitted.head.pool(feats)
    assert torch.isfinite(pooled).all()
