"""``ecgscope models / tasks / train / pretrain`` in-process."""

from __future__ import annotations

import json

from ecgscope.cli import main
from ecgscope.models import list_models, read_checkpoint


def test_models_and_tasks_listings(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == list_models()
    by = {r["model"]: r for r in rows}
    assert by["ecgfm"]["fs"] == 500 and by["stmem"]["window_samples"] == 2250 and by["ssm"]["params"] <= 5_000_000
    assert main(["tasks", "--json"]) == 0
    tasks = {t["task"]: t for t in json.loads(capsys.readouterr().out)}
    assert tasks["ptbxl17"]["split"] == {"train": [1, 2, 3, 4, 5, 6, 7, 8], "val": [9], "test": [10]}


def test_unknown_names_are_usage_errors(capsys):
    assert main(["train", "--model", "gpt5"]) == 2
    assert "unknown model 'gpt5'" in capsys.readouterr().err
    assert main(["train", "--strategy", "lora"]) == 2
    assert main(["pretrain", "--objective", "jigsaw"]) == 2
    assert main(["train", "--augment", "reverb"]) == 2
    assert "unknown augmentation recipe 'reverb'; valid: none, devices, wearable" in capsys.readouterr().err


def test_train_and_pretrain_commands(tmp_path, data_dir, capsys):
    code = main(["pretrain", "--model", "ssm_tiny", "--data-dir", str(data_dir), "--out", str(tmp_path / "pre"),
                 "--objective", "masked", "--limit", "16", "--max-steps", "2", "--epochs", "1", "--batch-size", "8",
                 "--no-progress", "--json"])
    assert code == 0
    out = capsys.readouterr().out
    pre = json.loads(out[out.index("{"):])
    assert pre["bundle"].endswith("encoder.pt") and read_checkpoint(pre["bundle"])["training"]["objectives"] == ["masked"]
    code = main(["train", "--model", "ssm_tiny", "--strategy", "linear", "--task", "ptbxl17", "--data-dir",
                 str(data_dir), "--out", str(tmp_path / "clf"), "--pretrained", pre["bundle"], "--limit", "32",
                 "--max-steps", "2", "--epochs", "1", "--batch-size", "8", "--no-progress", "--augment", "devices"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "bundle:" in printed and "constant predictor (val): macro AUROC 0.500" in printed
    ckpt = read_checkpoint(tmp_path / "clf" / "best.pt")
    assert ckpt["training"]["config"]["layer_decay"] is None and ckpt["training"]["strategy"] == "linear"
    assert ckpt["training"]["config"]["augment"] == "devices"
