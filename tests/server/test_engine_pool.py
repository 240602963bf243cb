"""Analyses in worker processes (ECGSCOPE_ANALYSIS_PROCESSES): same results, same errors, crash recovery."""

from __future__ import annotations

import importlib.util
import os
import signal

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ecgscope.inference") is None,
                                reason="ecgscope.inference (the analysis engine) is not installed")


@pytest.fixture
def pooled(make_api):
    """A server whose analyses run in one worker process, beside one whose analyses run in its threads."""
    return make_api("pooled", analysis_processes=1), make_api("inline")


def _upload(api, files, **data):
    r = api.client.post("/api/v1/records", files=files, data=data, headers=api.h("alice"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_a_worker_process_gives_the_in_process_result(pooled, ptbxl_upload):
    pool_api, inline_api = pooled
    assert pool_api.client.app.state.ctx.engine_pool is not None
    assert inline_api.client.app.state.ctx.engine_pool is None
    a = pool_api.client.post(f"/api/v1/records/{_upload(pool_api, ptbxl_upload)}/analyze", headers=pool_api.h("alice"))
    b = inline_api.client.post(f"/api/v1/records/{_upload(inline_api, ptbxl_upload)}/analyze",
                               headers=inline_api.h("alice"))
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    pa = [x["probability"] for x in a.json()["classification"]["labels"]]
    pb = [x["probability"] for x in b.json()["classification"]["labels"]]
    np.testing.assert_allclose(pa, pb, atol=1e-6)
    assert a.json()["delineation"] == b.json()["delineation"]
    assert a.json()["measurements"] == b.json()["measurements"]


def test_an_engine_error_in_a_worker_keeps_its_status_and_message(pooled):
    pool_api, _ = pooled
    t = np.arange(0, 3, 1 / 250)
    csv = "I\n" + "\n".join(f"{v:.5f}" for v in np.sin(2 * np.pi * 1.2 * t) ** 63)
    rid = _upload(pool_api, [("files", ("strip.csv", csv.encode()))], fs="250")
    r = pool_api.client.post(f"/api/v1/records/{rid}/analyze", headers=pool_api.h("alice"))
    assert r.status_code == 422 and r.json()["detail"]["code"] == "too_short_for_window", r.text
    row = pool_api.client.get(f"/api/v1/records/{rid}?signal=false", headers=pool_api.h("alice")).json()
    assert row["status"] == "failed" and "shorter than one model window" in row["status_detail"]


def test_a_killed_worker_fails_its_analysis_with_503_and_the_next_one_works(pooled, ptbxl_upload, monkeypatch):
    pool_api, _ = pooled
    rid = _upload(pool_api, ptbxl_upload)
    pool = pool_api.client.app.state.ctx.engine_pool
    assert pool_api.client.post(f"/api/v1/records/{rid}/analyze", headers=pool_api.h("alice")).status_code == 200

    # the worker dies in the middle of the next analysis (as the kernel's OOM killer would do it)
    import ecgscope.server.engine_pool as ep

    monkeypatch.setattr(ep, "_analyze_in_worker", _die)
    r = pool_api.client.post(f"/api/v1/records/{rid}/analyze", headers=pool_api.h("alice"))
    assert r.status_code == 503 and r.json()["detail"]["code"] == "analysis_worker_failed", r.text
    assert "try again" in r.json()["detail"]["message"]
    row = pool_api.client.get(f"/api/v1/records/{rid}?signal=false", headers=pool_api.h("alice")).json()
    assert row["status"] == "failed"

    monkeypatch.undo()
    r = pool_api.client.post(f"/api/v1/records/{rid}/analyze", headers=pool_api.h("alice"))
    assert r.status_code == 200, r.text
    assert pool._executor is not None  # a fresh pool took over


def _die(*_args):  # runs in the worker (pickled by reference: the spawned worker imports this module)
    os.kill(os.getpid(), signal.SIGKILL)
