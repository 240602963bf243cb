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


@pytest.fixture(scope="module")
def ray_cluster():
    """A real two-node Ray cluster on this machine (a head and a second node, one CPU each,
    ``ray.cluster_utils.Cluster``), this process connected to it; shut down after the module."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private cluster of the test
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def _proc_pids(matches) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if matches(int(entry.name), int(stat.rsplit(")", 1)[1].split()[1]), cmd):
            found.append(int(entry.name))
    return found


@pytest.fixture
def proc_pids():
    """``proc_pids(matches)``: the processes of this machine whose ``(pid, parent pid, cmdline bytes)`` satisfy
    ``matches`` (worker processes a test kills)."""
    return _proc_pids
