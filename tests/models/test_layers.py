"""Pooling, drop-path and the layer-fusion heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgscope.models.heads import PMAHead, PPAHead, create_head
from ecgscope.models.layers import AttentionPool, DropPath, masked_mean, power_mean


def test_power_mean_matches_definition_and_is_stable():
    x = torch.randn(3, 7, 5, dtype=torch.float64)
    f = torch.nn.functional.softplus(x) + 1e-6
    ref = (f**3).mean(dim=1) ** (1 / 3)
    torch.testing.assert_close(power_mean(x, q=3.0), ref)
    big = torch.tensor([[[1e4], [-1e4], [0.0]]], requires_grad=True)
    out = power_mean(big, q=3.0)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(big.grad).all()
    np.testing.assert_allclose(float(out), (1e4**3 / 3) ** (1 / 3), rtol=1e-4)
    # between the mean and the max of the positive features
    assert float(f.mean(1).max()) <= float(ref.max()) <= float(f.max())


def test_masked_mean_skips_padding():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    pad = torch.tensor([[False, False, True]])
    assert float(masked_mean(x, pad)) == 2.0 and float(masked_mean(x)) == pytest.approx(104 / 3)


def test_drop_path_zeroes_whole_samples_and_keeps_the_mean():
    torch.manual_seed(0)
    dp = DropPath(0.5).train()
    y = dp(torch.ones(4000, 3, 2))
    per_sample = y.view(4000, -1)
    assert ((per_sample == 0).all(1) | (per_sample == 2).all(1)).all()
    assert abs(float(y.mean()) - 1.0) < 0.05
    dp.eval()
    assert torch.equal(dp(torch.ones(5, 2)), torch.ones(5, 2))


def test_ppa_is_the_uniform_average_of_layer_norms_of_pooled_layers():
    torch.manual_seed(0)
    head = PPAHead([8, 8, 8], num_classes=2)
    feats = [torch.randn(2, 5, 8) for _ in range(3)]
    z = head(feats, pre_logits=True)
    ref = torch.stack([ln(f.mean(1)) for f, ln in zip(feats, head.layers.norms, strict=True)]).mean(0)
    torch.testing.assert_close(z, ref)


def test_pma_gates_are_a_softmax_starting_uniform_and_learnable():
    torch.manual_seed(0)
    head = PMAHead([8, 16], num_classes=3)  # layers of different widths are projected
    feats = [torch.randn(4, 5, 8), torch.randn(4, 5, 16)]
    w = head.layer_weights(feats)
    torch.testing.assert_close(w, torch.full((4, 2), 0.5))
    head(feats).sum().backward()
    assert head.gate.weight.grad is not None and head.gate_bias.grad is not None
    with torch.no_grad():
        head.gate_bias.copy_(torch.tensor([5.0, -5.0]))
    assert (head.layer_weights(feats)[:, 0] > 0.99).all()


def test_attention_pool_head_shapes():
    pool = AttentionPool(16, num_heads=4, num_queries=3)
    assert pool(torch.randn(2, 9, 16)).shape == (2, 16)
    head = create_head("attn", 16, 5)
    assert head(torch.randn(2, 9, 16)).shape == (2, 5)


def test_ipastmem_averages_layers_within_contiguous_groups_then_mixes_the_groups():
    from ecgscope.models.heads import GroupLayerAverage, IPASTMEMHead

    torch.manual_seed(0)
    fuse = GroupLayerAverage([8] * 6, n_groups=3)
    assert fuse.group_of.tolist() == [0, 0, 1, 1, 2, 2]
    feats = [torch.randn(2, 5, 8) for _ in range(6)]
    normed = [ln(f) for f, ln in zip(feats, fuse.norms, strict=True)]
    groups = [(normed[0] + normed[1]) / 2, (normed[2] + normed[3]) / 2, (normed[4] + normed[5]) / 2]
    torch.testing.assert_close(fuse(feats), sum(groups) / 3)  # uniform mixture at the start
    with torch.no_grad():
        fuse.group_logits.copy_(torch.tensor([-20.0, 20.0, -20.0]))
    torch.testing.assert_close(fuse(feats), groups[1])  # the mixture is learnable: all weight on the middle group
    # stages of different widths and lengths (a ResNet) are projected and resampled to the last one's
    head = IPASTMEMHead([4, 8], num_classes=3, n_groups=4)
    assert head.fuse.n_groups == 2
    out = head([torch.randn(2, 10, 4), torch.randn(2, 5, 8)])
    assert out.shape == (2, 3)
    out.sum().backward()
    assert head.fuse.group_logits.grad is not None
    with pytest.raises(ValueError, match="expected 2 layer outputs"):
        head([torch.randn(2, 5, 8)])
