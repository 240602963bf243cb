"""The server's analyses on a Ray cluster (ECGSCOPE_ANALYSIS_ENGINE=ray): a real two-node cluster on this machine,
one analysis actor per node, the in-process results, and a lost actor failing only its analysis (503)."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

pytestmark = pytest.mark.xdist_group("batch")  # Ray clusters of their own: one at a time


def _upload(api, files, **data):
    r = api.client.post("/api/v1/records", files=files, data=data, headers=api.h("alice"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_ray_actors_give_the_in_process_result_and_survive_a_lost_actor(ray_cluster, proc_pids, make_api, ptbxl_upload, upload_of,
                                                                        data_dir):
    import ray

    ray_api = make_api("ray", analysis_processes=2, analysis_engine="ray", ray_address=ray_cluster.address)
    inline = make_api("inline")
    pool = ray_api.client.app.state.ctx.engine_pool
    assert type(pool).__name__ == "RayEnginePool"
    first = _upload(ray_api, ptbxl_upload)
    a = ray_api.client.post(f"/api/v1/records/{first}/analyze", headers=ray_api.h("alice"))
    b = inline.client.post(f"/api/v1/records/{_upload(inline, ptbxl_upload)}/analyze", headers=inline.h("alice"))
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    np.testing.assert_allclose([x["probability"] for x in a.json()["classification"]["labels"]],
                               [x["probability"] for x in b.json()["classification"]["labels"]], atol=1e-6)
    assert a.json()["measurements"] == b.json()["measurements"]
    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2
    assert {ray.get(h.node.remote()) for h in pool._handles} == nodes  # one actor on each node

    # an analysis long enough to kill its actor in the middle: half an hour of MIT-BIH record 100
    rid = _upload(ray_api, upload_of(data_dir / "mitdb" / "100"))
    answer: dict = {}
    t = threading.Thread(target=lambda: answer.update(
        r=ray_api.client.post(f"/api/v1/records/{rid}/analyze", headers=ray_api.h("alice"))))
    t.start()
    time.sleep(1.0)
    assert t.is_alive(), "the analysis ended before its actor could be killed"
    idle = list(pool._idle.queue)
    busy = [h for h in pool._handles if h not in idle]
    assert len(busy) == 1 and len(idle) == 1
    survivor_pid = ray.get(idle[0].pid.remote())
    victims = [pid for pid in proc_pids(lambda pid, ppid, cmd: cmd.startswith(b"ray::_AnalysisActor"))
               if pid != survivor_pid]
    assert len(victims) == 1
    killed = victims[0]
    os.kill(killed, signal.SIGKILL)
    t.join(120)
    r = answer["r"]
    assert r.status_code == 503 and r.json()["detail"]["code"] == "analysis_worker_failed", r.text
    # the next analyses work: on the surviving actor, then on the one Ray restarted
    for _ in range(3):
        again = ray_api.client.post(f"/api/v1/records/{first}/analyze", headers=ray_api.h("alice"))
        assert again.status_code == 200, again.text
    pids = {ray.get(h.pid.remote()) for h in pool._handles}
    assert survivor_pid in pids and killed not in pids and len(pids) == 2
