"""``ecgscope batch --engine ray`` on a real two-node Ray cluster on this machine (a head and a second node,
``ray.cluster_utils.Cluster``): the rows of the local engine, an actor killed mid-job, a resumed job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgscope.batch import PROB_COLUMNS, BatchOptions, read_batch, run_batch

pytestmark = pytest.mark.xdist_group("batch")


def _sorted(out: Path):
    return read_batch(out).to_pandas().sort_values("path").reset_index(drop=True)


def test_the_cluster_gives_the_rows_of_the_local_engine_on_both_nodes(ray_cluster, archive, tmp_path):
    cluster = ray_cluster
    run_batch([archive], tmp_path / "local.parquet", workers=2, chunk_size=3)
    summary = run_batch([archive], tmp_path / "ray.parquet", engine="ray", address=cluster.address, chunk_size=3)
    assert summary.workers == 2 and summary.analysed == 16 and not summary.failed
    local, remote = _sorted(tmp_path / "local.parquet"), _sorted(tmp_path / "ray.parquet")
    assert (local.path == remote.path).all() and (local.sha256 == remote.sha256).all()
    assert (local.model_name == remote.model_name).all()
    np.testing.assert_allclose(remote[list(PROB_COLUMNS)].to_numpy(float), local[list(PROB_COLUMNS)].to_numpy(float),
                               atol=1e-5)
    np.testing.assert_allclose(remote.heart_rate_bpm, local.heart_rate_bpm, atol=1e-6)
    assert set(remote.engine) == {"ray"}
    assert remote.worker.str.split("@").str[1].nunique() == 2  # actors on the head and on the second node


def test_an_actor_killed_mid_job_is_restarted_and_no_record_is_lost_or_doubled(ray_cluster, archive, tmp_path,
                                                                                 kill_one_worker, proc_pids):
    kill_one, killed = kill_one_worker(lambda: proc_pids(lambda pid, ppid, cmd: cmd.startswith(b"ray::_RayWorker")))
    cluster = ray_cluster
    out = tmp_path / "out.parquet"
    summary = run_batch([archive], out, engine="ray", address=cluster.address, chunk_size=2, shard_rows=4,
                        progress=kill_one, options=BatchOptions(fast=True))
    assert killed and summary.analysed == 16
    t = read_batch(out).to_pandas()
    assert len(t) == 16 and t.path.is_unique and t.error_code.isna().all(), t[["path", "error_code"]]
    again = run_batch([archive], out, engine="ray", address=cluster.address, options=BatchOptions(fast=True))
    assert (again.analysed, again.skipped) == (0, 16)  # resumed: nothing written twice
    assert len(read_batch(out)) == 16
