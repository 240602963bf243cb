"""Shared fixtures: the real data directory and a few real records."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ecgscope.config import resolve_data_dir
from ecgscope.errors import MissingInputError


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Tests never write into the user's cache."""
    os.environ.setdefault("ECGSCOPE_CACHE_DIR", str(tmp_path_factory.mktemp("ecgscope-cache")))


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (two xdist workers share the machine's cores); restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    try:
        return resolve_data_dir()
    except MissingInputError as err:
        pytest.fail(f"the real data is needed for this test: {err}")


@pytest.fixture(scope="session")
def ptbxl_hr(data_dir) -> Path:
    """A PTB-XL 500 Hz record (base path, FLAC-compressed WFDB)."""
    return data_dir / "ptbxl" / "records500" / "00000" / "00002_hr"


@pytest.fixture(scope="session")
def ptbxl_record(ptbxl_hr):
    from ecgscope.io import load_record

    return load_record(ptbxl_hr)
