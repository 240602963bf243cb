"""The dashboard's geometry unit tests (web/src/ecg/*.test.js: layout, hit testing, caliper snapping,
fiducials per lead, saliency bins) run with Node's own test runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


def test_geometry_unit_tests_pass():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node (>= 20) is needed for the dashboard's unit tests: apt-get install -y nodejs")
    run = subprocess.run([node, "--test", "src/ecg/"], cwd=WEB, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout
