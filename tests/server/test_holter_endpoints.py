"""The Holter view's endpoints on a real 30-min MIT-BIH recording: analyse it beat by beat, read the summary,
take the beats and the full-rate samples of one strip, and the refusals (a 10-s ECG, a viewer, no analysis)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.datasets.mitdb import AAMI_CLASS, read_beat_annotations
from ecgscope.evaluate.fiducials import match_events

pytestmark = pytest.mark.xdist_group("holter_server")


@pytest.fixture
def holter_rid(api, upload_of, data_dir):
    r = api.client.post("/api/v1/records", files=upload_of(data_dir / "mitdb" / "119"), headers=api.h("alice"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_a_long_upload_is_analysed_beat_by_beat_and_served_a_strip_at_a_time(api, holter_rid, data_dir):
    assert api.client.get(f"/api/v1/records/{holter_rid}/holter", headers=api.h("alice")).status_code == 404
    r = api.client.post(f"/api/v1/records/{holter_rid}/holter", headers=api.h("alice"))
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["holter_schema_version"] and "beat_list" not in summary
    assert summary["input"]["duration_s"] == pytest.approx(1805.6, abs=0.1)
    assert summary["beats"]["classes"]["counts"]["V"] > 300  # 119: ventricular bigeminy and trigeminy
    assert len(summary["heart_rate"]["per_minute_bpm"]) == 31
    # kept: the same summary later, and the plain analysis endpoint does not mistake it for a DESIGN §4 result
    again = api.client.get(f"/api/v1/records/{holter_rid}/holter", headers=api.h("carol")).json()
    assert again == summary
    assert api.client.get(f"/api/v1/records/{holter_rid}/analysis", headers=api.h("alice")).status_code == 404
    row = api.client.get(f"/api/v1/records/{holter_rid}?signal=false", headers=api.h("alice")).json()
    assert row["status"] == "analyzed"

    # one 10-s strip: its beats with their classes, and its samples at the record's own rate
    start, end = 600.0, 610.0
    beats = api.client.get(f"/api/v1/records/{holter_rid}/holter/beats?start_s={start}&end_s={end}",
                           headers=api.h("alice")).json()
    t = np.array(beats["peaks_s"])
    assert 8 <= t.size <= 25 and (t >= start).all() and (t <= end).all() and len(beats["classes"]) == t.size
    ann = read_beat_annotations(str(data_dir / "mitdb" / "119"))
    ref_t = ann.beat_samples / 360.0
    inside = (ref_t >= start + 0.2) & (ref_t <= end - 0.2)
    ri, di = match_events(ref_t[inside], t, 0.15)
    assert ri.size == inside.sum()  # every reference beat of the strip is there
    truth = np.array([AAMI_CLASS.get(s, "Q") for s in ann.beat_symbols[inside]])[ri]
    assert (np.array(beats["classes"])[di] == truth).mean() > 0.9
    strip = api.client.get(f"/api/v1/records/{holter_rid}?start_s={start}&duration_s=10",
                           headers=api.h("alice")).json()["signal"]
    assert strip["start_s"] == start and strip["fs"] == 360 and strip["n_samples"] == 3600
    assert strip["decimation"] == "none" and len(strip["data"]) == 2

    # deleting the record deletes its Holter analysis with it
    assert api.client.delete(f"/api/v1/records/{holter_rid}", headers=api.h("alice")).status_code == 204
    assert api.client.get(f"/api/v1/records/{holter_rid}/holter", headers=api.h("alice")).status_code == 404


def test_holter_refusals_name_the_problem(api, holter_rid, ptbxl_upload):
    short = api.client.post("/api/v1/records", files=ptbxl_upload, headers=api.h("alice")).json()["id"]
    r = api.client.post(f"/api/v1/records/{short}/holter", headers=api.h("alice"))
    assert r.status_code == 422 and r.json()["detail"]["code"] == "too_short_for_holter"
    assert "10.0 s long" in r.json()["detail"]["message"]
    assert api.client.post(f"/api/v1/records/{holter_rid}/holter", headers=api.h("carol")).status_code == 403
    assert api.client.post(f"/api/v1/records/{holter_rid}/holter", headers=api.h("bob")).status_code == 404
    r = api.client.get(f"/api/v1/records/{holter_rid}/holter/beats?start_s=10&end_s=20", headers=api.h("alice"))
    assert r.status_code == 404 and "POST /api/v1/records" in r.json()["detail"]["message"]
    r = api.client.get(f"/api/v1/records/{holter_rid}/holter/beats?start_s=20&end_s=10", headers=api.h("alice"))
    assert r.status_code == 422 and "must be after start_s" in r.json()["detail"]["message"]
    r = api.client.get(f"/api/v1/records/{holter_rid}?start_s=5000", headers=api.h("alice"))
    assert r.status_code == 422 and "outside the record" in r.json()["detail"]["message"]


def test_openapi_documents_the_shipped_holter_schema(api):
    from ecgscope.holter.schema import load_json_schema

    doc = api.client.get("/openapi.json").json()
    for method in ("get", "post"):
        ref = doc["paths"]["/api/v1/records/{record_id}/holter"][method]["responses"]["200"]["content"][
            "application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/HolterReport"
    served, shipped = doc["components"]["schemas"], load_json_schema()
    assert set(served["HolterReport"]["properties"]) == set(shipped["properties"])
    for name, sub in shipped["$defs"].items():
        assert set(served[name]["properties"]) == set(sub["properties"]), name
    assert not [n for n in served if "__" in n]  # no two models share a name (FastAPI would qualify them)
