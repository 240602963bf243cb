"""``ecgscope batch`` on this machine: real records from three sources, the same analysis as ``analyze``, exactly
one row per record through worker deaths, driver kills and re-runs, and bad input as error rows."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ecgscope.batch import (
    COLUMNS,
    BatchInputError,
    BatchOptions,
    collect_inputs,
    label_column,
    read_batch,
    run_batch,
)
from ecgscope.labels import LABELS

pytestmark = pytest.mark.xdist_group("batch")  # worker pools of their own: one such test at a time


def test_every_record_gets_one_row_with_the_analysis_of_analyze(archive, tmp_path):
    from ecgscope.inference import Analyzer, choose_model
    from ecgscope.io import load_record

    inputs = collect_inputs([archive])
    assert len(inputs) == 16 and all(i.path.endswith(".hea") for i in inputs)
    summary = run_batch([archive], tmp_path / "out.parquet", workers=2, chunk_size=3, shard_rows=5)
    assert (summary.total, summary.analysed, summary.skipped, dict(summary.failed)) == (16, 16, 0, {})
    assert summary.shards >= 3  # committed in shards as the job went
    t = read_batch(tmp_path / "out.parquet").to_pandas()
    assert list(t.columns) == list(COLUMNS) and len(t) == 16 and t.path.is_unique
    assert t.error_code.isna().all() and t.sha256.str.len().eq(64).all()
    assert set(t.model_name) == {"ecgscope-17-12lead", "ecgscope-17-1lead"}  # auto, as analyze chooses
    assert t.worker.nunique() == 2
    # the same numbers as the inference API gives for the same file
    for path in t.path.iloc[::5]:
        rec = load_record(path)
        want = Analyzer.from_pretrained(choose_model(rec), substitute_lead=True).analyze(rec).to_dict()
        row = t.set_index("path").loc[path]
        for lab in want["classification"]["labels"]:
            assert row[f"p_{label_column(lab['name'])}"] == pytest.approx(lab["probability"], abs=1e-4)
            assert bool(row[f"pos_{label_column(lab['name'])}"]) == lab["positive"]
        assert row.heart_rate_bpm == pytest.approx(want["measurements"]["heart_rate_bpm"], abs=0.05)
        assert row.hrv_rmssd_ms == pytest.approx(want["rhythm"]["hrv"]["rmssd_ms"], abs=0.05)
    assert len([c for c in t.columns if c.startswith("p_") and c != "p_axis_deg"]) == len(LABELS)


def test_a_rerun_writes_nothing_twice_and_a_changed_file_is_analysed_again(archive, tmp_path):
    local = tmp_path / "archive"
    shutil.copytree(archive / "cinc", local)
    out = tmp_path / "out.parquet"
    assert run_batch([local], out, workers=1, options=BatchOptions(fast=True)).analysed == 4
    again = run_batch([local], out, workers=1, options=BatchOptions(fast=True))
    assert (again.analysed, again.skipped) == (0, 4)
    # touched but the same bytes: read and hashed by a worker, then skipped (no new row)
    os.utime(local / "A00006.hea")
    again = run_batch([local], out, workers=1, options=BatchOptions(fast=True))
    assert (again.analysed, again.skipped) == (0, 4)
    # new content: a new row, the old one kept with its own sha256
    mat = local / "A00007.mat"
    data = bytearray(mat.read_bytes())
    data[-200:] = bytes(200)
    mat.write_bytes(bytes(data))
    again = run_batch([local], out, workers=1, options=BatchOptions(fast=True))
    assert (again.analysed, again.skipped) == (1, 3)
    t = read_batch(out).to_pandas()
    assert len(t) == 5 and t.groupby("path").sha256.nunique().max() == 2


def test_a_worker_killed_mid_job_loses_no_record_and_duplicates_none(archive, tmp_path, kill_one_worker, proc_pids):
    me = os.getpid()  # this process's spawned pool workers
    kill_one, killed = kill_one_worker(lambda: proc_pids(lambda pid, ppid, cmd: ppid == me and b"spawn_main" in cmd))
    out = tmp_path / "out.parquet"
    summary = run_batch([archive], out, workers=2, chunk_size=2, shard_rows=4, progress=kill_one,
                        options=BatchOptions(fast=True))
    assert killed
    t = read_batch(out).to_pandas()
    assert len(t) == 16 and t.path.is_unique and t.error_code.isna().all(), t[["path", "error_code"]]
    assert summary.analysed == 16


def test_a_killed_job_resumes_to_exactly_one_row_per_record(archive, tmp_path):
    out = tmp_path / "out.parquet"
    cmd = [sys.executable, "-m", "ecgscope.cli", "batch", str(archive), "--out", str(out), "--workers", "2",
           "--chunk-size", "1", "--shard-rows", "2", "--fast", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("part-*.parquet"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, at once, mid-job
    proc.wait()
    before = len(read_batch(out))
    assert 0 < before < 16
    summary = run_batch([archive], out, workers=2, options=BatchOptions(fast=True))
    assert summary.skipped == before and summary.analysed == 16 - before
    t = read_batch(out).to_pandas()
    assert len(t) == 16 and t.path.is_unique
    assert not (out / "_tmp").exists() or not any((out / "_tmp").iterdir())


def test_bad_input_becomes_error_rows_beside_the_good_records(archive, tmp_path, copy_record):
    bad = tmp_path / "incoming"
    bad.mkdir()
    good = copy_record(archive / "ludb" / "1.hea", bad)
    (bad / "empty.edf").write_bytes(b"")
    scp = Path(__file__).parents[1] / "fixtures" / "scp" / "ecgtoolkit_example.scp"
    (bad / "cut.scp").write_bytes(scp.read_bytes()[:5000])
    truncated = copy_record(archive / "ludb" / "2.hea", bad / "trunc")
    dat = truncated.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:1000])
    (bad / "flat.csv").write_text("# fs=500\n# units=mV\nI,II\n" + "0,0\n" * 2000)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"path,patient_id\n{good},P1\nincoming/missing.hea,P2\n")
    out = tmp_path / "out.parquet"
    summary = run_batch([bad, manifest], out, workers=2)
    t = read_batch(out).to_pandas().set_index("path")
    assert len(t) == 6 and summary.analysed == 6
    codes = t.error_code.to_dict()
    assert codes[str(good)] is None and t.loc[str(good), "patient_id"] == "P1"
    assert t.loc[str(good), "p_sinus_rhythm"] > 0
    by_name = {Path(p).name: c for p, c in codes.items()}
    assert by_name["empty.edf"] == "empty_file"
    assert by_name["cut.scp"] == "truncated"
    assert by_name["missing.hea"] == "missing_file"
    assert by_name["2.hea"] is not None and by_name["flat.csv"] == "all_leads_flat"
    for p, msg in t.error_message.dropna().items():
        assert Path(p).name in msg and "Traceback" not in msg
    assert sum(summary.failed.values()) == 5 and summary.failed["missing_file"] == 1


def test_inputs_that_name_no_records_say_so(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README").write_text("no ECG here")
    with pytest.raises(BatchInputError, match="holds no ECG record"):
        collect_inputs([tmp_path / "notes"])
    with pytest.raises(BatchInputError, match="matches no ECG record"):
        collect_inputs([str(tmp_path / "*.hea")])
    import pandas as pd

    pd.DataFrame({"file": ["x.hea"]}).to_parquet(tmp_path / "m.parquet")
    with pytest.raises(BatchInputError, match="'path' column"):
        collect_inputs([tmp_path / "m.parquet"])
    (tmp_path / "m.csv").write_text("file\nx.hea\n")  # no 'path' column: an ECG CSV, not a manifest
    assert [Path(i.path).name for i in collect_inputs([tmp_path / "m.csv"])] == ["m.csv"]


def test_the_cli_names_the_problem_and_prints_a_summary(archive, tmp_path, capsys):
    import json

    from ecgscope.cli import main

    (tmp_path / "empty").mkdir()
    assert main(["batch", str(tmp_path / "empty"), "--out", str(tmp_path / "o.parquet")]) == 2
    assert "holds no ECG record" in capsys.readouterr().err
    assert main(["batch", str(archive / "cinc"), "--out", str(tmp_path / "o.parquet"), "--workers", "1", "--fast",
                 "--json", "--full-json", str(tmp_path / "json")]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["analysed"] == 4 and s["failed"] == {}
    t = read_batch(tmp_path / "o.parquet").to_pandas()
    full = json.loads(Path(t.result_json.iloc[0]).read_text())
    assert full["schema_version"] and full["input"]["source"] == Path(t.path.iloc[0]).name
    assert main(["batch", str(archive / "cinc"), "--out", str(tmp_path / "o.parquet"), "--engine", "spark"]) == 2


def test_the_output_is_one_parquet_table_that_pandas_reads(archive, tmp_path):
    import pandas as pd

    out = tmp_path / "out.parquet"
    run_batch([archive / "cinc"], out, workers=1, options=BatchOptions(fast=True), shard_rows=2)
    df = pd.read_parquet(out)  # the directory, as any Parquet reader takes it
    assert len(df) == 4 and np.isfinite(df.p_atrial_fibrillation).all()


def test_the_docs_describe_every_column_of_the_schema():
    from ecgscope.batch.schema import POSITIVE_COLUMNS

    text = (Path(__file__).parents[2] / "docs" / "batch.md").read_text()
    for column in COLUMNS:
        if column not in POSITIVE_COLUMNS:  # those are named once, as pos_<label>
            assert f"`{column}`" in text, column
    assert "**1.0**" in text
