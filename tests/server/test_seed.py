"""`make run`'s demo content: a demo user and four real example records (one a 30-min recording), seeded once."""

from __future__ import annotations

import numpy as np

from ecgscope.server import Settings
from ecgscope.server.context import ServerContext
from ecgscope.server.seed import demo_token, seed_examples
from ecgscope.server.services.records import decimate_for_display


def test_seed_examples_once_with_a_stable_token(tmp_path, data_dir):
    ctx = ServerContext(Settings(state_dir=tmp_path / "state"))
    ctx.start()
    token = demo_token(ctx)
    ids = seed_examples(ctx, data_dir)
    assert len(ids) == 4
    assert seed_examples(ctx, data_dir) == []  # not seeded twice
    assert demo_token(ctx) == token
    assert (ctx.settings.state_dir / "demo-token").stat().st_mode & 0o077 == 0  # owner-only file
    from fastapi.testclient import TestClient

    from ecgscope.server import create_app

    with TestClient(create_app(ctx.settings)) as client:
        items = client.get("/api/v1/records", headers={"Authorization": f"Bearer {token}"}).json()["items"]
    shapes = {i["patient_id"]: (i["n_leads"], i["fs"], i["duration_s"]) for i in items}
    assert shapes == {"ptbxl-13243": (12, 500.0, 10.0), "cinc2017-A00006": (1, 300.0, 30.0),
                      "mitdb-100": (2, 360.0, 30.0), "mitdb-119": (2, 360.0, 1805.5556)}


def test_display_decimation_modes(ptbxl_record):
    x = ptbxl_record.signal
    same, fs, how = decimate_for_display(x, 500.0, 5000)
    assert how == "none" and same is x and fs == 500
    near, fs, how = decimate_for_display(x, 500.0, 4999)
    assert how == "minmax" and near.shape[1] <= 4999 and fs == 2 * 500 / 3
    mm, fs, how = decimate_for_display(x, 500.0, 500)
    assert how == "minmax" and mm.shape[1] <= 500 and fs == 50
    np.testing.assert_array_equal(mm.max(axis=1), x[:, : 250 * 20].max(axis=1))
