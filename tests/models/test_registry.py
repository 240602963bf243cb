"""Every registered model: shapes, forward/backward, save/load round trip, determinism."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from ecgscope.errors import ContractError
from ecgscope.models import ECGModel, bundle_dict, create_model, list_models, load_model, save_bundle
from ecgscope.models.heads import FUSION_HEADS, HEADS


def input_length(name: str) -> int:
    """A short valid window for each family (ST-MEM: a multiple of its 75-sample patch)."""
    return 150 if name.startswith("stmem") else 256


# CardioMorph needs fitted MiniRocket kernels: it has its own module (test_cardiomorph.py)
MODELS = [m for m in list_models() if m != "cardiomorph"]
SMALL = [m for m in MODELS if m.endswith("_tiny")]
# published-size encoders (20-90 M parameters): every check, with one construction per check kind
BIG = [m for m in MODELS if create_model(m).num_params() > 5_000_000]
MEDIUM = [m for m in MODELS if m not in BIG]


def _build(name: str, seed: int = 0, **kw) -> ECGModel:
    torch.manual_seed(seed)
    return create_model(name, **kw)


def test_registry_lists_every_family():
    names = list_models()
    for family in ("ecgfm", "stmem", "ssm", "resnet1d", "cardiomorph", "ecgfm_tiny", "stmem_tiny"):
        assert family in names
    assert list_models("stmem*") == ["stmem", "stmem_small", "stmem_tiny"]
    with pytest.raises(KeyError, match="registered models"):
        create_model("no_such_model")


@pytest.mark.parametrize("name", MEDIUM)
def test_forward_backward_shapes(name):
    model = _build(name, num_classes=5)
    T = input_length(name)
    x = torch.randn(2, model.in_chans, T)
    logits = model(x)
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    logits.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    model.eval()
    with torch.no_grad():
        feats = model.forward_features(x)
        inter = model.forward_intermediates(x)
        assert feats.ndim == 3 and feats.shape[0] == 2 and feats.shape[2] == model.num_features
        assert len(inter) == len(model.layer_dims)
        assert [t.shape[-1] for t in inter] == model.layer_dims
        torch.testing.assert_close(inter[-1], feats)
        torch.testing.assert_close(model.forward_head(feats), model(x))
        assert model.forward_head(feats, pre_logits=True).shape == (2, model.num_features)
    assert model.pretrained_cfg.input_contract.window_samples > 0


@pytest.mark.parametrize("name", MEDIUM)
def test_bundle_round_trip(name, tmp_path):
    model = _build(name, num_classes=3).eval()
    x = torch.randn(2, model.in_chans, input_length(name))
    path = save_bundle(model, tmp_path / f"{name}.pt", task="ptbxl17", metrics={"val_macro_auroc": 0.9})
    again = create_model(name, pretrained=path).eval()
    assert again.num_classes == 3 and again.pretrained_cfg.task == "ptbxl17"
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    assert load_model(path).model_name == name


@pytest.mark.parametrize("name", MEDIUM)
def test_determinism_with_fixed_seed(name):
    a, b = _build(name, seed=123).eval(), _build(name, seed=123).eval()
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb), ka
    x = torch.randn(2, a.in_chans, input_length(name), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
    c = _build(name, seed=124)
    assert any(not torch.equal(va, vc) for va, vc in zip(a.state_dict().values(), c.state_dict().values(), strict=True)
               if va.is_floating_point() and va.numel() > 1)


@pytest.mark.parametrize("name", BIG)
def test_published_size_models(name):
    """Forward/backward, shapes, determinism and an in-memory bundle round trip of a large encoder."""
    a, b = _build(name, seed=7, num_classes=3), _build(name, seed=7, num_classes=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb), ka
    del b
    x = torch.randn(1, a.in_chans, input_length(name))
    logits = a(x)
    assert logits.shape == (1, 3)
    logits.sum().backward()
    first, last = a.layer_groups()[0], a.layer_groups()[-1]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in [*first, *last, *a.head_parameters()])
    a.eval()
    with torch.no_grad():
        inter = a.forward_intermediates(x)
        assert len(inter) == len(a.layer_dims) and inter[-1].shape[-1] == a.num_features
        ref = a(x)
    buf = io.BytesIO()
    torch.save(bundle_dict(a, task="ptbxl17"), buf)
    buf.seek(0)
    again = create_model(name, pretrained=torch.load(buf, weights_only=True)).eval()
    with torch.no_grad():
        assert torch.equal(again(x), ref)


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("head", HEADS)
def test_every_head_on_small_models(name, head):
    model = _build(name, num_classes=4, head=head)
    x = torch.randn(3, model.in_chans, input_length(name))
    out = model(x)
    assert out.shape == (3, 4)
    out.sum().backward()
    assert model.uses_intermediates == (head in FUSION_HEADS)
    if model.uses_intermediates:
        with pytest.raises(ContractError, match="fuses layers"):
            model.forward_head(model.forward_features(x))
    model.reset_classifier(2, head="linear", labels=("a", "b"))
    assert model(x).shape == (3, 2) and model.pretrained_cfg.labels == ("a", "b")


@pytest.mark.parametrize("name", SMALL)
def test_drop_path_only_in_training(name):
    model = _build(name, num_classes=2)
    model.set_regularization(drop_path_rate=0.5, drop_rate=0.2)
    rates = [m.drop_prob for m in model.modules() if type(m).__name__ == "DropPath"]
    assert rates and max(rates) == pytest.approx(0.5)
    x = torch.randn(4, model.in_chans, input_length(name))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))


def test_wrong_channel_count_is_a_contract_error():
    model = _build("ssm_tiny")
    with pytest.raises(ContractError, match="12 channel"):
        model(torch.zeros(1, 3, 256))
    with pytest.raises(ContractError, match="batch, channels, samples"):
        model(torch.zeros(12, 256))


def test_stmem_takes_a_subset_of_leads_through_its_lead_embeddings():
    full = _build("stmem_tiny").eval()
    two = create_model("stmem_tiny", input_leads=("II", "V1")).eval()
    two.load_state_dict(full.state_dict())
    assert two.in_chans == 2 and two.lead_index == [1, 6]
    x = torch.randn(1, 2, 150)
    with torch.no_grad():
        ref = two(x)
        two.lead_embeddings[0].add_(torch.randn(96))  # lead I is not used
        assert torch.equal(two(x), ref)
        two.lead_embeddings[6].add_(torch.randn(96))  # V1 is
        assert not torch.allclose(two(x), ref)
    with pytest.raises(ContractError, match="multiple of 75"):
        two(torch.randn(1, 2, 100))
    with pytest.raises(ContractError, match="does not take a subset"):
        _build("ssm_tiny").set_input_leads(("I",))


def test_default_small_backbone_budget():
    assert create_model("ssm").num_params() <= 5_000_000
    np.testing.assert_equal(create_model("ssm").pretrained_cfg.input_contract.fs, 100.0)
