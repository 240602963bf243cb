"""Training runs on real PTB-XL / CinC 2017 records with tiny models and a few steps."""

from __future__ import annotations

import json

import lightning as L
import pytest
import torch

from ecgscope.labels import LABELS
from ecgscope.models import create_model, load_model, read_checkpoint
from ecgscope.models.layers import DropPath
from ecgscope.train import PretrainConfig, TrainConfig, pretrain, train


class StageProbe(L.Callback):
    """Records, at the first batch of each stage, drop-path rates and which modules are in train mode."""

    def __init__(self):
        self.seen: list[dict] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx or trainer.current_epoch:
            return
        model = pl_module.model
        paths = [m for m in model.modules() if isinstance(m, DropPath)]
        self.seen.append({"stage": pl_module.stage.name, "max_drop_path": max(m.drop_prob for m in paths),
                          "backbone_training": any(m.training for m in paths), "head_training": model.head.training})


def _cfg(tmp_path, data_dir, **kw):
    base = dict(model="ssm_tiny", task="ptbxl17", out_dir=str(tmp_path / "run"), data_dir=str(data_dir), epochs=2,
                batch_size=16, limit=48, progress=False, n_bootstrap=0, patience=10)
    return TrainConfig(**{**base, **kw})


def test_post_train_fine_tunes_from_the_linear_probed_head(tmp_path, data_dir):
    probe = StageProbe()
    res = train(_cfg(tmp_path, data_dir, strategy="post-train", epochs=4), callbacks=[probe])
    first, second = res.stages
    assert (first.stage, second.stage) == ("probe", "finetune")
    # stage 1 trained the head only
    assert not first.backbone_changed
    assert any(not torch.equal(first.head_start[k], first.head_end[k]) for k in first.head_end)
    # stage 2 started from exactly that head, then trained everything
    for k in first.head_end:
        assert torch.equal(second.head_start[k], first.head_end[k]), k
    assert second.backbone_changed
    # stochastic depth: off (and the backbone in eval mode) while probing, on while fine-tuning
    by_stage = {s["stage"]: s for s in probe.seen}
    assert by_stage["probe"]["max_drop_path"] == 0 and not by_stage["probe"]["backbone_training"]
    assert by_stage["finetune"]["max_drop_path"] == pytest.approx(0.1) and by_stage["finetune"]["backbone_training"]
    assert by_stage["probe"]["head_training"]
    # the bundle: loadable, with the merged contract, labels and task
    model = create_model("ssm_tiny", pretrained=res.bundle).eval()
    cfg = model.pretrained_cfg
    assert cfg.task == "ptbxl17" and cfg.labels == LABELS and cfg.input == "12-lead"
    assert (cfg.input_contract.fs, cfg.input_contract.window_samples) == (100.0, 500)
    # drop-path does nothing at inference: a loaded model is deterministic
    x = torch.randn(2, 12, 500)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0.0 <= metrics["val"]["macro"]["auroc"]["value"] <= 1.0
    assert metrics["constant_predictor_val_macro_auroc"] == 0.5
    assert {u["label"] for u in metrics["val"]["unscorable"]} >= {"Ventricular tachycardia"}
    assert (tmp_path / "run" / "logs").is_dir() and (tmp_path / "run" / "tb").is_dir()
    assert read_checkpoint(res.bundle)["training"]["strategy"] == "post-train"


@pytest.mark.parametrize(("strategy", "head"), [("linear", "LinearHead"), ("frozen-attn", "AttentionHead")])
def test_frozen_strategies_leave_the_backbone_untouched(tmp_path, data_dir, strategy, head):
    res = train(_cfg(tmp_path, data_dir, strategy=strategy, max_steps=3, epochs=1, test=False))
    assert len(res.stages) == 1 and not res.stages[0].backbone_changed
    assert type(res.model.head).__name__ == head


def test_single_lead_duplicates_or_feeds_the_lead_alone(tmp_path, data_dir):
    dup = train(_cfg(tmp_path / "a", data_dir, strategy="single-lead", max_steps=2, epochs=1, test=False))
    c = load_model(dup.bundle).pretrained_cfg
    assert (c.input, c.input_contract.single_lead, c.input_contract.duplicate_single_lead) == ("single-lead", "I", True)
    alone = train(_cfg(tmp_path / "b", data_dir, model="stmem_tiny", strategy="single-lead", lead="II", max_steps=1,
                       epochs=1, limit=16, test=False, batch_size=8))
    m = load_model(alone.bundle)
    assert m.in_chans == 1 and m.input_leads == ("II",)
    c = m.pretrained_cfg.input_contract
    assert (c.single_lead, c.duplicate_single_lead, c.fs, c.window_samples) == ("II", False, 250.0, 2250)


def test_cinc2017_af_task_trains_on_single_lead_records(tmp_path, data_dir):
    res = train(_cfg(tmp_path, data_dir, task="cinc2017-af", strategy="finetune", max_steps=2, epochs=1, limit=64))
    assert res.model.pretrained_cfg.labels == ("Atrial fibrillation",)
    assert res.model.pretrained_cfg.input_contract.duplicate_single_lead
    assert "val" in res.metrics and res.metrics["train_records"] == 64


def test_pretrain_then_fine_tune_from_the_encoder(tmp_path, data_dir):
    pre = pretrain(PretrainConfig(model="ssm_tiny", dataset="ptbxl100", data_dir=str(data_dir),
                                  out_dir=str(tmp_path / "pre"), epochs=1, max_steps=3, batch_size=8, limit=24,
                                  progress=False))
    bundle = read_checkpoint(pre.bundle)
    assert bundle["kind"] == "encoder" and not any(k.startswith("head.") for k in bundle["state_dict"])
    assert set(bundle["training"]["objectives"]) == {"masked", "contrastive"}
    clf = create_model("ssm_tiny", pretrained=pre.bundle, num_classes=17)
    for k, v in bundle["state_dict"].items():
        assert torch.equal(clf.state_dict()[k], v), k
    res = train(_cfg(tmp_path, data_dir, strategy="finetune", pretrained=str(pre.bundle), max_steps=2, epochs=1,
                     test=False))
    assert read_checkpoint(res.bundle)["training"]["config"]["pretrained"] == str(pre.bundle)


def test_input_override_sets_the_window(tmp_path, data_dir):
    res = train(_cfg(tmp_path, data_dir, strategy="finetune", input="12-lead 10 s", max_steps=1, epochs=1, limit=16,
                     test=False))
    assert res.model.pretrained_cfg.input_contract.window_samples == 1000
    assert "val" in res.metrics and len(res.history) == 1  # one validation after the single epoch
