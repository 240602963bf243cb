"""DDP: two CPU processes over gloo train one model and write one checkpoint bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from ecgscope.models import create_model, read_checkpoint


@pytest.mark.slow
def test_two_process_ddp_on_cpu_writes_a_bundle(tmp_path, data_dir):
    out = tmp_path / "ddp"
    # the CLI in a subprocess: Lightning's DDP launcher re-runs the command for rank 1
    cmd = [sys.executable, "-m", "ecgscope.cli", "train", "--model", "ssm_tiny", "--strategy", "finetune",
           "--task", "ptbxl17", "--data-dir", str(data_dir), "--out", str(out), "--devices", "2",
           "--accelerator", "cpu", "--limit", "32", "--max-steps", "2", "--epochs", "1", "--batch-size", "8",
           "--threads", "1", "--no-progress"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "Starting with 2 processes" in log and "gloo" in log
    assert log.count("bundle:") == 1  # only rank 0 reports and writes
    bundle = read_checkpoint(out / "best.pt")
    assert bundle["format"] == "ecgscope.model-bundle" and bundle["model"] == "ssm_tiny"
    assert bundle["metrics"]["world_size"] == 2
    model = create_model("ssm_tiny", pretrained=out / "best.pt").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 12, 500)).shape == (1, 17)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and "val" in metrics
