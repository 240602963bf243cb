"""Tokens, roles and teams: 401 without a valid token, 403 for a role that may not, 404 across teams."""

from __future__ import annotations

import json

import pytest

from ecgscope.cli import main

RID = "0" * 32
RECORD_ENDPOINTS = [
    ("GET", "/api/v1/records"),
    ("POST", "/api/v1/records"),
    ("GET", f"/api/v1/records/{RID}"),
    ("DELETE", f"/api/v1/records/{RID}"),
    ("POST", f"/api/v1/records/{RID}/analyze"),
    ("GET", f"/api/v1/records/{RID}/analysis"),
    ("GET", f"/api/v1/records/{RID}/report.pdf"),
    ("GET", "/api/v1/models"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/admin/audit"),
]


@pytest.mark.parametrize(("method", "path"), RECORD_ENDPOINTS)
@pytest.mark.parametrize("auth", [None, "Bearer ecg_not-a-real-token", "Basic YWRtaW46YWRtaW4=", "Bearer "])
def test_every_endpoint_needs_a_valid_token(api, method, path, auth):
    headers = {"Authorization": auth} if auth else {}
    r = api.client.request(method, path, headers=headers)
    assert r.status_code == 401, (method, path, r.text)
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["detail"]["code"] == "unauthorized"


def test_roles(api, ptbxl_upload):
    viewer_upload = api.client.post("/api/v1/records", files=ptbxl_upload, headers=api.h("carol"))
    assert viewer_upload.status_code == 403 and "read" in viewer_upload.json()["detail"]["message"]
    rid = api.client.post("/api/v1/records", files=ptbxl_upload, headers=api.h("alice")).json()["id"]
    # the viewer is in alice's team: she reads the record but may not delete or analyze it
    assert api.client.get(f"/api/v1/records/{rid}", headers=api.h("carol")).status_code == 200
    assert api.client.delete(f"/api/v1/records/{rid}", headers=api.h("carol")).status_code == 403
    assert api.client.post(f"/api/v1/records/{rid}/analyze", headers=api.h("carol")).status_code == 403
    for user in ("alice", "carol", "bob"):
        assert api.client.get("/api/v1/admin/audit", headers=api.h(user)).status_code == 403
        r = api.client.post("/api/v1/admin/users", json={"username": "eve"}, headers=api.h(user))
        assert r.status_code == 403


def test_records_of_another_team_are_not_found(api, ptbxl_upload):
    rid = api.client.post("/api/v1/records", files=ptbxl_upload, headers=api.h("alice")).json()["id"]
    for method, suffix in [("GET", ""), ("DELETE", ""), ("GET", "/analysis"), ("GET", "/report.pdf"),
                           ("POST", "/analyze")]:
        r = api.client.request(method, f"/api/v1/records/{rid}{suffix}", headers=api.h("bob"))
        assert r.status_code == 404, (method, suffix, r.text)
        assert r.json()["detail"]["code"] == "record_not_found"
    assert api.client.get("/api/v1/records", headers=api.h("bob")).json()["total"] == 0
    # a teammate (and the team's admin) see it
    assert api.client.get(f"/api/v1/records/{rid}?signal=false", headers=api.h("admin")).status_code == 200
    assert api.client.get("/api/v1/records", headers=api.h("carol")).json()["total"] == 1


def test_admin_creates_users_and_tokens(api, ptbxl_upload):
    r = api.client.post("/api/v1/admin/users", json={"username": "dave", "role": "member", "team": "other-clinic"},
                        headers=api.h("admin"))
    assert r.status_code == 201
    token = r.json()["token"]
    me = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"id": me["id"], "username": "dave", "role": "member", "team": "other-clinic"}
    dup = api.client.post("/api/v1/admin/users", json={"username": "dave"}, headers=api.h("admin"))
    assert dup.status_code == 422 and "exists" in dup.json()["detail"]["message"]
    bad_role = api.client.post("/api/v1/admin/users", json={"username": "x", "role": "root"}, headers=api.h("admin"))
    assert bad_role.status_code == 422
    second = api.client.post("/api/v1/admin/users/dave/tokens", headers=api.h("admin")).json()["token"]
    assert second != token
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200
    assert api.client.post("/api/v1/admin/users/nobody/tokens", headers=api.h("admin")).status_code == 404


def test_cli_creates_users_whose_tokens_work(api, capsys):
    state = str(api.settings.state_dir)
    assert main(["users", "create", "erin", "--team", "cardio", "--state-dir", state]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["username"] == "erin"
    assert main(["users", "token", "erin", "--state-dir", state]) == 0
    token2 = json.loads(capsys.readouterr().out)["token"]
    assert api.client.get("/api/v1/records", headers={"Authorization": f"Bearer {token2}"}).status_code == 200
    assert main(["users", "create", "erin", "--state-dir", state]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["users", "list", "--state-dir", state]) == 0
    assert "erin" in capsys.readouterr().out


def test_tokens_are_stored_hashed(api):
    import sqlite3

    db = sqlite3.connect(api.settings.state_dir / "ecgscope.db")
    stored = [row[0] for row in db.execute("SELECT token_hash FROM api_tokens")]
    db.close()
    assert stored and not any(t in stored for t in api.tokens.values())
    assert all(len(h) == 64 for h in stored)


def test_token_is_checked_before_the_upload_is_read(api):
    garbage = {"Content-Type": "multipart/form-data; boundary=x"}
    assert api.client.post("/api/v1/records", content=b"not multipart at all", headers=garbage).status_code == 401
    r = api.client.post("/api/v1/records", content=b"--x\r\nbroken", headers={**garbage, **api.h("alice")})
    assert r.status_code == 422 and r.json()["detail"]["message"]
