"""ecgscope bundles: contents, encoder bundles, family checks."""

from __future__ import annotations

import pytest
import torch

from ecgscope.errors import ContractError, MissingInputError
from ecgscope.models import bundle_dict, create_model, load_model, read_checkpoint, save_bundle
from ecgscope.signal.contract import InputContract


def test_bundle_holds_what_rebuilds_the_model(tmp_path):
    torch.manual_seed(0)
    model = create_model("ssm_tiny", num_classes=2, head="attn", d_model=48)
    model.pretrained_cfg = model.pretrained_cfg.replace(
        input_contract=InputContract(fs=100, window_samples=250), labels=("AF", "other"), task="demo")
    path = save_bundle(model, tmp_path / "b.pt", metrics={"val_macro_auroc": 0.8}, training={"command": "x"})
    raw = torch.load(path, weights_only=True)  # plain types only
    assert raw["model"] == "ssm_tiny" and raw["model_kwargs"]["d_model"] == 48 and raw["model_kwargs"]["head"] == "attn"
    assert raw["labels"] == ["AF", "other"] and raw["task"] == "demo" and raw["metrics"]["val_macro_auroc"] == 0.8
    again = load_model(path)
    assert again.cfg.d_model == 48 and again.head_name == "attn"
    assert again.pretrained_cfg.input_contract.window_samples == 250
    assert again.pretrained_cfg.labels == ("AF", "other")


def test_encoder_bundle_loads_into_a_classifier_with_a_new_head(tmp_path):
    torch.manual_seed(0)
    enc = create_model("ssm_tiny", num_classes=0)
    path = save_bundle(enc, tmp_path / "enc.pt", kind="encoder")
    assert not any(k.startswith("head.") for k in read_checkpoint(path)["state_dict"])
    clf = create_model("ssm_tiny", pretrained=path, num_classes=17)
    assert clf.num_classes == 17 and len(clf.pretrained_cfg.labels) == 17
    for k, v in enc.state_dict().items():
        assert torch.equal(clf.state_dict()[k], v)


def test_bundle_of_another_family_is_refused(tmp_path):
    path = save_bundle(create_model("ssm_tiny"), tmp_path / "s.pt")
    with pytest.raises(ContractError, match="not a 'resnet1d_tiny'"):
        create_model("resnet1d_tiny", pretrained=path)
    with pytest.raises(MissingInputError):
        create_model("ssm_tiny", pretrained=tmp_path / "absent.pt")
    with pytest.raises(ContractError, match="not an ecgscope model bundle"):
        torch.save({"model": {}}, tmp_path / "foreign.pt")
        load_model(tmp_path / "foreign.pt")


def test_bundle_dict_is_in_memory_loadable():
    model = create_model("resnet1d_tiny", num_classes=3).eval()
    again = create_model("resnet1d_tiny", pretrained=bundle_dict(model)).eval()
    x = torch.randn(2, 12, 256)
    with torch.no_grad():
        assert torch.equal(again(x), model(x))
