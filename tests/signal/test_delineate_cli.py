"""``ecgscope delineate`` on real files: table, JSON, options and errors."""

from __future__ import annotations

import json

import numpy as np

from ecgscope.cli import main


def test_table_output(ptbxl_hr, capsys):
    assert main(["delineate", str(ptbxl_hr)]) == 0
    out = capsys.readouterr().out
    assert "QRS on" in out and "QTc bazett" in out and "QRS axis" in out and "quality:" in out


def test_json_output_follows_design(data_dir, capsys):
    path = data_dir / "ludb" / "data" / "1"
    assert main(["delineate", str(path), "--json", "--qtc", "fridericia", "--lead", "v1"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["delineation"]["lead"] == "V1" and len(res["delineation"]["beats"]) >= 8
    assert res["measurements"]["qtc_formula"] == "fridericia"
    assert set(res["quality"]) >= {"usable", "per_lead", "issues"}
    assert res["rhythm"]["hrv"]["n_beats"] == len(res["rhythm"]["rr_ms"]) + 1
    r = [b["r_peak"] for b in res["delineation"]["beats"]]
    assert all(np.diff(r) > 0)


def test_neurokit_method_and_bad_options(ptbxl_hr, tmp_path, capsys):
    assert main(["delineate", str(ptbxl_hr), "--method", "neurokit", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "neurokit"
    assert main(["delineate", str(ptbxl_hr), "--method", "dwt"]) == 2
    assert "valid methods: learned, neurokit" in capsys.readouterr().err
    assert main(["delineate", str(ptbxl_hr), "--lead", "V9"]) == 2
    assert main(["delineate", str(tmp_path / "missing.hea")]) == 2


def test_flat_lead_file_gives_flags_not_a_traceback(ptbxl_record, tmp_path, capsys):
    from ecgscope.io import save_record

    sig = ptbxl_record.signal.copy()
    sig[0] = 0.0
    path = save_record(ptbxl_record.replace(signal=sig), tmp_path / "flat.csv")
    assert main(["delineate", str(path), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert "I: flatline" in res["quality"]["issues"]
