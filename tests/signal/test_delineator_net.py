"""The delineator network: shapes at any length, BatchNorm folding and the 2-D form are exact."""

from __future__ import annotations

import copy

import pytest
import torch

from ecgscope.signal.delineator_net import DelineatorConfig, DelineatorUNet, conv1d_to_conv2d, fuse_batchnorm


@pytest.mark.parametrize("head", ["conv", "light"])
@pytest.mark.parametrize("skip", ["add", "concat"])
def test_shapes_folding_and_2d_form(head, skip):
    torch.manual_seed(0)
    model = DelineatorUNet(DelineatorConfig(kernel_size=5, skip=skip, head=head))
    for m in model.modules():  # BatchNorm statistics that are not the identity, so folding is tested
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    model.eval()
    for t in (1251, 517):  # odd lengths: the pooling and upsampling edges
        x = torch.randn(3, 2, t)
        with torch.no_grad():
            ref = model(x)
            assert ref.shape == (3, 4, t)
            folded = fuse_batchnorm(copy.deepcopy(model))
            torch.testing.assert_close(folded(x), ref, atol=1e-4, rtol=1e-4)
            two_d = conv1d_to_conv2d(folded)(x[:, :, None, :])[:, :, 0]
            torch.testing.assert_close(two_d, folded(x), atol=1e-5, rtol=1e-5)


def test_unknown_head_and_skip_are_refused():
    with pytest.raises(ValueError, match="valid: conv, light"):
        DelineatorUNet(DelineatorConfig(head="big"))
    with pytest.raises(ValueError, match="valid: concat, add"):
        DelineatorUNet(DelineatorConfig(skip="mul"))


def test_weights_saved_before_the_head_option_load_with_the_conv_head(tmp_path):
    """Their config has no "head" (the conv head was the only one): they still load, exactly."""
    import json

    from ecgscope.signal.delineator_net import load_delineator, save_delineator

    torch.manual_seed(1)
    model = DelineatorUNet(DelineatorConfig(kernel_size=7, head="conv")).eval()
    path = tmp_path / "old_delineator.pt"
    save_delineator(model, str(path), training={"command": "test"})
    blob = torch.load(path, weights_only=True)
    meta = json.loads(blob["meta"])
    del meta["config"]["head"]  # as written before the option existed
    blob["meta"] = json.dumps(meta)
    torch.save(blob, path)
    loaded, _ = load_delineator(str(path))
    assert loaded.config.head == "conv" and loaded.config.kernel_size == 7
    x = torch.randn(2, 2, 700)
    with torch.no_grad():
        ref = fuse_batchnorm(copy.deepcopy(model).half().float())(x)  # the file stores float16 weights
        torch.testing.assert_close(loaded(x), ref, atol=1e-4, rtol=1e-4)
