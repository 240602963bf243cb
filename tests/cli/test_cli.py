"""The command line, run in-process through its entry point."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ecgscope.cli import main
from ecgscope.io import load_record


def test_info_json(ptbxl_hr, capsys):
    assert main(["info", str(ptbxl_hr), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fs"] == 500 and out["n_leads"] == 12 and out["duration_s"] == 10.0
    assert set(out["quality"]) == set(out["leads"])
    assert all(isinstance(q["usable"], bool) for q in out["quality"].values())


def test_info_table_many_files_reports_each_failure(data_dir, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    code = main(["info", str(data_dir / "mitdb" / "100"), str(bad), str(data_dir / "cinc2017" / "A00006")])
    captured = capsys.readouterr()
    assert code == 2
    assert "A00006" in captured.out and "100" in captured.out and "1805.56" in captured.out
    assert "error: " in captured.err and "invalid JSON" in captured.err


def test_convert_round_trip(data_dir, tmp_path, capsys):
    src = data_dir / "ludb" / "data" / "2"
    for fmt, ext in (("csv", ".csv"), ("json", ".json"), ("wfdb", ".hea"), ("edf", ".edf")):
        out = tmp_path / f"two{ext}"
        assert main(["convert", str(src), "--to", fmt, "-o", str(out)]) == 0
        back = load_record(out)
        ref = load_record(src)
        atol = 2e-3 if fmt == "edf" else 0
        np.testing.assert_allclose(back.signal, ref.signal, atol=atol)
    assert main(["convert", str(src), "--to", "csv", "-o", str(tmp_path / "two.csv")]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["convert", str(src), "--to", "xlsx"]) == 2


def test_datasets_json(data_dir, capsys):
    assert main(["datasets", "--data-dir", str(data_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = {d["dataset"]: d for d in out["datasets"]}
    assert names["ptbxl100"]["records"] == 2980 and names["mitdb"]["records"] == 23
    assert out["labels"]["ptbxl"]["Atrial fibrillation"]["positives"] == 100


def test_missing_data_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["datasets", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "data directory does not exist" in capsys.readouterr().err


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "ecgscope.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "info" in proc.stdout


@pytest.mark.parametrize("argv", [["export", "ecgscope-af-1lead"], ["analyze", "x.hea", "--nonsense"], ["no-such-command"]])
def test_usage_errors_are_a_message_and_exit_2_not_a_traceback(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Error:" in err and "--help" in err


def test_exporting_a_model_without_a_network_is_a_clear_error(capsys):
    assert main(["export", "--model", "ecgscope-af-1lead"]) == 2
    assert "has no network to export" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "fragment"), [
    (["train-rhythm", "--task", "nosuch"], "unknown task 'nosuch'; valid: cinc2017-af"),
    (["train-rhythm", "--task", "ptbxl17"], "predicts one label; task 'ptbxl17' has 17"),
    (["train-rhythm", "--C", "0"], "--C must be positive"),
    (["calibrate", "best.pt", "--task", "nosuch"], "unknown task 'nosuch'"),
    (["calibrate", "best.pt", "--quality-threshold-data", "nosuch"], "unknown dataset 'nosuch'"),
    (["calibrate", "best.pt", "--task", "cinc2017-af", "--quality-threshold-data", "cinc2017"],
     "has no 'Poor data quality' label"),
])
def test_model_building_commands_refuse_bad_options_by_name(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
