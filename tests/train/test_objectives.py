"""Self-supervised objectives on real windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgscope.datasets import open_dataset
from ecgscope.datasets.prepared import prepare
from ecgscope.models import create_model
from ecgscope.train.objectives import MaskedReconstruction, SegmentContrastive


@pytest.fixture(scope="module")
def pairs(data_dir):
    """First and second 5-s halves of eight PTB-XL records at 100 Hz."""
    contract = create_model("ssm_tiny").pretrained_cfg.input_contract
    ps = prepare(open_dataset("ptbxl100", data_dir), contract, np.arange(8))
    w = np.stack([ps.windows(k) for k in range(8)])  # (8, 2, 12, 500)
    return torch.from_numpy(w[:, 0].copy()), torch.from_numpy(w[:, 1].copy())


@pytest.mark.parametrize("name", ["ssm_tiny", "resnet1d_tiny"])
def test_masked_reconstruction_hides_patches_per_lead(name, pairs):
    torch.manual_seed(0)
    model = create_model(name, num_classes=0)
    obj = MaskedReconstruction(model, 12, 500, mask_ratio=0.5)
    x = pairs[0]
    m = obj.mask(x)
    assert m.shape == x.shape
    assert 0.4 < float(m.mean()) < 0.6
    assert not torch.equal(m[:, 0], m[:, 1])  # each lead has its own mask
    loss = obj(model, x)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert obj.decoder.weight.grad is not None and any(p.grad is not None for p in model.backbone_parameters())


def test_masked_reconstruction_uses_stmem_lead_tokens():
    model = create_model("stmem_tiny", num_classes=0)
    obj = MaskedReconstruction(model, 12, 2250, mask_ratio=0.75)
    assert (obj.groups, obj.n_tokens, obj.patch, obj.leads_per_row) == (12, 30, 75, 1)
    x = torch.randn(2, 12, 2250)
    assert torch.isfinite(obj(model, x))


def test_ipastmem_pretraining_trains_every_layer_through_the_decoder():
    torch.manual_seed(0)
    model = create_model("stmem_tiny", num_classes=0)
    obj = MaskedReconstruction(model, 12, 2250, mask_ratio=0.75, fusion="ipastmem", n_groups=2)
    x = torch.randn(2, 12, 2250)
    loss = obj(model, x)
    loss.backward()
    assert obj.fuse.group_logits.grad is not None
    # the first block's attention gets gradient from its own tokens, not only through the later blocks
    first = model._blocks()[0]
    last_only = MaskedReconstruction(model, 12, 2250, mask_ratio=0.75)
    g_fused = torch.cat([p.grad.flatten() for p in first.parameters() if p.grad is not None]).norm()
    model.zero_grad()
    torch.manual_seed(0)
    last_only(model, x).backward()
    g_last = torch.cat([p.grad.flatten() for p in first.parameters() if p.grad is not None]).norm()
    assert g_fused != g_last
    with pytest.raises(ValueError, match="unknown fusion"):
        MaskedReconstruction(model, 12, 2250, fusion="soup")


def test_segment_contrast_prefers_segments_of_the_same_record(pairs):
    torch.manual_seed(0)
    model = create_model("ssm_tiny", num_classes=0)
    obj = SegmentContrastive(model, temperature=0.1)
    a, b = pairs
    opt = torch.optim.Adam([*model.parameters(), *obj.parameters()], lr=3e-3)
    with torch.no_grad():
        first = float(obj(model, a, b))
    for _ in range(15):
        opt.zero_grad()
        loss = obj(model, a, b)
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(obj(model, a, b)) < first
    assert first == pytest.approx(np.log(8), abs=0.6)  # about chance at initialisation
