"""Shared fixtures of the batch tests: a small archive of real records."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest


def _copy_record(hea: Path, to: Path) -> Path:
    """A WFDB record (header and signal files) copied into ``to``."""
    from ecgscope.batch.worker import record_files

    to.mkdir(parents=True, exist_ok=True)
    for f in record_files(hea):
        shutil.copy(f, to / f.name)
    return to / hea.name


@pytest.fixture
def copy_record():
    """``copy_record(hea, to)``: a WFDB record (header and signal files) copied into ``to``."""
    return _copy_record


@pytest.fixture(scope="session")
def archive(tmp_path_factory, data_dir) -> Path:
    """A small archive of real records: 12-lead LUDB and PTB-XL, single-lead CinC 2017, in nested folders."""
    root = tmp_path_factory.mktemp("archive")
    for i in range(1, 9):
        _copy_record(data_dir / "ludb" / "data" / f"{i}.hea", root / "ludb")
    for name in ("00001_lr", "00002_lr", "00003_lr", "00004_lr"):
        _copy_record(data_dir / "ptbxl" / "records100" / "00000" / f"{name}.hea", root / "ptbxl" / "00000")
    for name in ("A00006", "A00007", "A00013", "A00014"):
        _copy_record(data_dir / "cinc2017" / f"{name}.hea", root / "cinc")
    (root / "ludb" / "RECORDS").write_text("1\n2\n")  # not a record: left out
    return root


@pytest.fixture
def kill_one_worker():
    """``kill_one_worker(find_pids)``: a progress callback that SIGKILLs one worker process (the first of
    ``find_pids()``) once two rows are in, and the list of the pids it killed."""

    def make(find_pids):
        killed: list[int] = []

        def progress(summary) -> None:
            if not killed and summary.analysed >= 2:
                pids = find_pids()
                assert pids, "no worker processes found"
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        return progress, killed

    return make
