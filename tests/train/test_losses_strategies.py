"""Masked loss, imbalance weights, optimizer groups with layer-wise decay, strategy registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgscope.models import create_model
from ecgscope.train.losses import masked_bce, pos_weight_from
from ecgscope.train.module import warmup_cosine
from ecgscope.train.strategies import (
    STRATEGIES,
    get_strategy,
    param_groups,
    set_backbone_trainable,
    stage_epochs,
)


def test_masked_bce_ignores_not_assessed_labels():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.3, 0.2, -2.0]], requires_grad=True)
    y = torch.tensor([[1.0, float("nan"), 0.0], [0.0, 1.0, float("nan")]])
    loss = masked_bce(logits, y)
    known = ~torch.isnan(y)
    ref = F.binary_cross_entropy_with_logits(logits[known], y[known])
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert logits.grad[0, 1] == 0 and logits.grad[1, 2] == 0 and logits.grad[0, 0] != 0
    w = torch.tensor([1.0, 1.0, 3.0])
    assert float(masked_bce(logits.detach(), torch.ones(2, 3), w)) > float(masked_bce(logits.detach(), torch.ones(2, 3)))


def test_pos_weight_from_counts():
    y = np.array([[1, 0, np.nan], [0, 0, 1], [0, 0, 0], [0, 0, np.nan]], dtype=float)
    np.testing.assert_allclose(pos_weight_from(y), [3.0, 1.0, 1.0])
    assert pos_weight_from(np.r_[np.ones((1, 1)), np.zeros((99, 1))], max_weight=30)[0] == 30


def test_layer_decay_groups_cover_every_parameter_once():
    model = create_model("ssm_tiny", num_classes=3)
    groups = param_groups(model, lr=1.0, weight_decay=0.1, layer_decay=0.5, train_backbone=True)
    seen = [id(p) for g in groups for p in g["params"]]
    assert len(seen) == len(set(seen)) == len(list(model.parameters()))
    n = len(model.layer_groups())  # stem + 2 blocks
    lrs = {g["name"].split(".")[0]: g["lr"] for g in groups}
    assert lrs["head"] == 1.0 and lrs["layer0"] == 0.5**n and lrs[f"layer{n - 1}"] == 0.5
    assert all(g["weight_decay"] == 0.0 for g in groups if g["name"].endswith("no_decay"))
    set_backbone_trainable(model, False)
    frozen = param_groups(model, lr=1.0, weight_decay=0.1, layer_decay=0.5, train_backbone=False)
    assert {id(p) for g in frozen for p in g["params"]} == {id(p) for p in model.head_parameters()}
    assert all(not p.requires_grad for p in model.backbone_parameters())


def test_strategy_registry():
    assert set(STRATEGIES) == {"linear", "frozen-attn", "finetune", "post-train", "post-train-full", "single-lead"}
    post = get_strategy("post-train")
    assert [s.train_backbone for s in post.stages] == [False, True]
    assert post.stages[1].drop_path_rate > 0 and post.stages[1].drop_rate > 0
    assert stage_epochs(post, 8) == [2, 6] and stage_epochs(post, 1) == [1, 1]
    full = get_strategy("post-train-full")  # the probe on top of finetune's budget, at finetune's rate
    assert stage_epochs(full, 8) == [2, 8] and full.stages[1].lr_scale == 1.0
    assert full.stages[1].drop_path_rate == post.stages[1].drop_path_rate
    assert get_strategy("frozen-attn").head == "attn" and get_strategy("single-lead").single_lead
    with pytest.raises(KeyError, match="valid strategies"):
        get_strategy("lora")


def test_warmup_cosine_schedule():
    assert warmup_cosine(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(100, 100, 10) == pytest.approx(0.01)
    assert math.isclose(warmup_cosine(55, 100, 10), 0.01 + 0.99 * 0.5, rel_tol=1e-6)


def test_record_probabilities_use_max_for_episodic_findings_and_mean_otherwise():
    from ecgscope.labels import LABELS
    from ecgscope.train.module import ClassifierModule, OptimConfig

    module = ClassifierModule(create_model("ssm_tiny"), LABELS, None, get_strategy("finetune").stages[0], OptimConfig())
    probs = np.zeros((3, 17))
    probs[0, LABELS.index("Premature ventricular contraction")] = 0.9
    probs[0, LABELS.index("Sinus rhythm")] = 0.8
    rec = module.record_probabilities(probs, np.array([0, 0, 1]), 2)
    assert rec[0, LABELS.index("Premature ventricular contraction")] == 0.9
    assert rec[0, LABELS.index("Sinus rhythm")] == pytest.approx(0.4)
    assert rec[1].sum() == 0
