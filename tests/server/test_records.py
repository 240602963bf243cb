"""Upload, list, fetch and delete records through the real app and a real SQLite file."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.io import load_record, save_record


def _upload(api, files, user="alice", **data):
    return api.client.post("/api/v1/records", files=files, data=data, headers=api.h(user))


def test_upload_wfdb_pair_then_fetch_exact_signal(api, ptbxl_upload, ptbxl_record):
    r = _upload(api, ptbxl_upload, patient_id="13243")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["duplicate"] is False and body["status"] == "uploaded"
    assert body["n_leads"] == 12 and body["fs"] == 500 and body["n_samples"] == 5000
    assert body["patient_id"] == "13243" and body["record_name"] == "00002_hr"
    assert {f["name"] for f in body["files"]} == {"00002_hr.hea", "00002_hr_1.dat", "00002_hr_2.dat"}

    detail = api.client.get(f"/api/v1/records/{body['id']}", headers=api.h("alice")).json()
    sig = detail["signal"]
    assert sig["decimation"] == "none" and sig["leads"] == list(ptbxl_record.leads)
    np.testing.assert_allclose(np.array(sig["data"]), ptbxl_record.signal, atol=6e-5)


def test_same_bytes_twice_is_one_record(api, ptbxl_upload):
    first = _upload(api, ptbxl_upload).json()
    again = _upload(api, ptbxl_upload)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["id"] == first["id"]
    assert api.client.get("/api/v1/records", headers=api.h("alice")).json()["total"] == 1
    # files are stored once, under their sha256, never under the uploaded name
    blobs = [p for p in api.settings.storage_dir.rglob("*") if p.is_file()]
    assert len(blobs) == 3
    assert all(len(p.parent.name + p.name) == 64 for p in blobs)


def test_decimation_keeps_peaks(api, ptbxl_upload, ptbxl_record):
    rid = _upload(api, ptbxl_upload).json()["id"]
    sig = api.client.get(f"/api/v1/records/{rid}?max_points=1000", headers=api.h("alice")).json()["signal"]
    data = np.array(sig["data"])
    assert data.shape == (12, 1000) and sig["decimation"] == "minmax" and sig["fs"] == pytest.approx(100.0)
    np.testing.assert_allclose(data.max(axis=1), ptbxl_record.signal.max(axis=1), atol=6e-5)
    np.testing.assert_allclose(data.min(axis=1), ptbxl_record.signal.min(axis=1), atol=6e-5)
    meta = api.client.get(f"/api/v1/records/{rid}?signal=false", headers=api.h("alice")).json()
    assert meta["signal"] is None


def test_every_supported_format_uploads(api, tmp_path, ptbxl_upload, cinc_upload, ptbxl_record, data_dir, zipped):
    uploads = {"zip": [("files", ("rec.zip", zipped(ptbxl_upload)))], "mat+hea": cinc_upload}
    short = ptbxl_record.replace(signal=ptbxl_record.signal[:, :2500], record_id="short")
    for fmt, ext in (("csv", ".csv"), ("json", ".json"), ("edf", ".edf")):
        path = save_record(short, tmp_path / f"short{ext}", format=fmt)
        uploads[fmt] = [("files", (path.name, path.read_bytes()))]
    for fmt, files in uploads.items():
        r = _upload(api, files)
        assert r.status_code == 201, (fmt, r.text)
        expected = load_record({n: b for _, (n, b) in files})
        body = r.json()
        assert body["n_samples"] == expected.n_samples and body["leads"] == list(expected.leads), fmt
        got = api.client.get(f"/api/v1/records/{body['id']}", headers=api.h("alice")).json()["signal"]
        np.testing.assert_allclose(np.array(got["data"]), expected.signal, atol=6e-5, err_msg=fmt)
    # a bare MATLAB array states no sampling rate: refused without fs, accepted with it
    mat = (data_dir / "cpsc2019_sample" / "data" / "data_00014.mat").read_bytes()
    refused = _upload(api, [("files", ("data_00014.mat", mat))])
    assert refused.status_code == 422 and "fs" in refused.json()["detail"]["message"]
    ok = _upload(api, [("files", ("data_00014.mat", mat))], fs="500")
    assert ok.status_code == 201 and ok.json()["fs"] == 500
    # the stored record re-reads with the options it needed; the same bytes at another fs are another record
    assert api.client.get(f"/api/v1/records/{ok.json()['id']}", headers=api.h("alice")).status_code == 200
    other = _upload(api, [("files", ("data_00014.mat", mat))], fs="250")
    assert other.status_code == 201 and other.json()["id"] != ok.json()["id"] and other.json()["fs"] == 250
    assert api.client.get(f"/api/v1/records/{ok.json()['id']}", headers=api.h("alice")).json()["signal"]["fs"] == 500


def test_list_pages_filters_and_history(api, data_dir, upload_of):
    ids = []
    for k, rid in enumerate(["A00006", "A00007", "A00013", "A00014", "A00018"]):
        r = _upload(api, upload_of(data_dir / "cinc2017" / rid), patient_id="p1" if k < 2 else f"p{k}")
        ids.append(r.json()["id"])
    page1 = api.client.get("/api/v1/records?page=1&page_size=2", headers=api.h("alice")).json()
    page3 = api.client.get("/api/v1/records?page=3&page_size=2", headers=api.h("alice")).json()
    assert page1["total"] == 5 and len(page1["items"]) == 2 and len(page3["items"]) == 1
    assert [i["id"] for i in page1["items"]] == ids[::-1][:2]  # newest first
    history = api.client.get("/api/v1/records?patient_id=p1", headers=api.h("alice")).json()
    assert {i["id"] for i in history["items"]} == set(ids[:2])
    assert api.client.get("/api/v1/records?status=uploaded", headers=api.h("alice")).json()["total"] == 5
    assert api.client.get("/api/v1/records?status=analyzed", headers=api.h("alice")).json()["total"] == 0
    bad = api.client.get("/api/v1/records?status=bogus", headers=api.h("alice"))
    assert bad.status_code == 422 and "bogus" in bad.json()["detail"]["message"]


@pytest.mark.parametrize(
    ("files", "code", "words"),
    [
        ([("files", ("x.csv", b"time,I\n0,1\n0.002\n"))], "ragged_rows", "line"),
        ([("files", ("x.json", b"{not json"))], None, "json"),
        ([("files", ("x.edf", b"0       garbage header"))], None, "edf"),
        ([("files", ("x.hea", b"x 1 500 5000\nx.dat 16 200 16 0 0 0 0 I\n"))], None, ".dat"),
        ([("files", ("empty.csv", b""))], "empty_file", "empty"),
        ([("files", ("x.bin", b"\x00\x01\x02\x03" * 100))], "unsupported_format", "format"),
        ([("files", ("a.zip", b"PK\x03\x04 truncated zip"))], None, "zip"),
    ],
)
def test_malformed_uploads_answer_422_with_a_message(api, files, code, words):
    r = _upload(api, files)
    assert r.status_code in (415, 422), r.text
    detail = r.json()["detail"]
    assert set(detail) == {"code", "message", "source"}
    if code:
        assert detail["code"] == code
    assert words.lower() in (detail["message"] + " " + (detail["source"] or "")).lower()
    assert api.client.get("/api/v1/records", headers=api.h("alice")).json()["total"] == 0


def test_truncated_signal_file_and_missing_files(api, ptbxl_upload):
    (hea_field, dat1, dat2) = ptbxl_upload
    truncated = [hea_field, ("files", (dat1[1][0], dat1[1][1][:5000])), dat2]
    r = _upload(api, truncated)
    assert r.status_code == 422 and r.json()["detail"]["message"]
    assert _upload(api, [dat1]).status_code == 422  # a .dat without its header
    r = _upload(api, [])
    assert r.status_code == 422 and "no files" in r.json()["detail"]["message"]
    many = [("files", (f"f{i}.csv", b"I\n1\n")) for i in range(9)]
    assert _upload(api, many).json()["detail"]["code"] == "too_many_files"


def test_file_names_never_become_paths(api, ptbxl_upload):
    evil = [("files", (f"../../../{name}", data)) for _, (name, data) in ptbxl_upload]
    r = _upload(api, evil)
    assert r.status_code == 201, r.text
    assert all("/" not in f["name"] and not f["name"].startswith(".") for f in r.json()["files"])
    outside = [p for p in api.settings.state_dir.parent.rglob("00002_hr*")]
    assert outside == []


def test_oversized_upload_is_413_by_header_and_by_stream(small_api, ptbxl_upload):
    big = [("files", ("big.csv", b"I\n" + b"0.1\n" * 60_000))]  # ~240 KiB > 100 KiB
    r = small_api.client.post("/api/v1/records", files=big, headers=small_api.h("alice"))
    assert r.status_code == 413 and r.json()["detail"]["code"] == "file_too_large"

    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        boundary = b"--xyz\r\n"
        yield boundary + b'Content-Disposition: form-data; name="files"; filename="big.csv"\r\n\r\nI\n'
        for _ in range(100):
            yield b"0.1\n" * 1000
        yield b"\r\n--xyz--\r\n"

    r = small_api.client.post("/api/v1/records", content=chunks(),
                              headers={**small_api.h("alice"), "Content-Type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 413
    # under the limit the same server accepts a real record
    ok = small_api.client.post("/api/v1/records", files=ptbxl_upload, headers=small_api.h("alice"))
    assert ok.status_code == 201
    assert small_api.client.get("/api/v1/records", headers=small_api.h("alice")).json()["total"] == 1


def test_delete_removes_record_and_files_and_is_audited(api, ptbxl_upload):
    rid = _upload(api, ptbxl_upload).json()["id"]
    bob_copy = _upload(api, ptbxl_upload, user="bob").json()["id"]  # the same bytes, another team
    r = api.client.delete(f"/api/v1/records/{rid}", headers=api.h("alice"))
    assert r.status_code == 204
    assert api.client.get(f"/api/v1/records/{rid}", headers=api.h("alice")).status_code == 404
    assert api.client.delete(f"/api/v1/records/{rid}", headers=api.h("alice")).status_code == 404
    # bob's record shares the blobs: they stay until his copy goes too
    assert api.client.get(f"/api/v1/records/{bob_copy}", headers=api.h("bob")).json()["signal"]["n_samples"] == 5000
    assert len([p for p in api.settings.storage_dir.rglob("*") if p.is_file()]) == 3
    assert api.client.delete(f"/api/v1/records/{bob_copy}", headers=api.h("bob")).status_code == 204
    assert [p for p in api.settings.storage_dir.rglob("*") if p.is_file()] == []

    audit = api.client.get(f"/api/v1/admin/audit?record_id={rid}", headers=api.h("admin")).json()
    assert [e["action"] for e in audit] == ["delete", "upload"]
    assert audit[0]["detail"]["record_name"] == "00002_hr" and len(audit[0]["detail"]["files"]) == 3
    # the other clinic's activity is not in this team's audit log
    assert api.client.get(f"/api/v1/admin/audit?record_id={bob_copy}", headers=api.h("admin")).json() == []


def test_upload_errors_name_the_upload_never_a_staging_path(api, ptbxl_upload, zipped):
    """The readers report errors against the upload's own file names (the server adds nothing): a
    header whose .dat is missing is a malformed upload (422), a truncated .dat names the upload, and
    no message or source shows the private directory the files were staged in."""
    import tempfile

    hea, dat1, dat2 = ptbxl_upload
    truncated = [hea, ("files", (dat1[1][0], dat1[1][1][:5000])), dat2]
    cases = {
        "missing_data_file": [hea, dat1],
        "truncated_data": truncated,
        "zip_missing_data_file": [("files", ("rec.zip", zipped([hea, dat1])))],
        "csv": [("files", ("x.csv", b"time,I\n0,1\n0.002\n"))],
        "json": [("files", ("x.json", b"{not json"))],
    }
    for case, files in cases.items():
        r = _upload(api, files)
        assert r.status_code == 422, (case, r.text)
        detail = r.json()["detail"]
        text = f"{detail['message']} {detail['source']}"
        assert tempfile.gettempdir() not in text and "ecgscope-" not in text, (case, detail)
        assert detail["source"], (case, detail)
        if case.endswith("missing_data_file"):
            assert detail["code"] == "missing_data_file" and dat2[1][0] in detail["message"], detail
        if case == "truncated_data":
            assert detail["source"] == ", ".join(name for _, (name, _) in truncated)


def test_hl7_aecg_uploads_and_a_malicious_one_is_a_422(api):
    from pathlib import Path

    sample = Path(__file__).parents[1] / "fixtures" / "aecg" / "fda_subject1_0.xml"
    bomb = (b'<?xml version="1.0"?><!DOCTYPE z [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<AnnotatedECG xmlns="urn:hl7-org:v3"><text>&b;</text></AnnotatedECG>')
    r = _upload(api, [("files", ("bomb.xml", bomb))])
    assert r.status_code == 422 and r.json()["detail"]["code"] == "unsafe_xml"
    r = _upload(api, [("files", (sample.name, sample.read_bytes()))])
    assert r.status_code == 201, r.text
    assert api.client.get("/api/v1/records", headers=api.h("alice")).json()["total"] == 1


def test_a_dicom_ecg_uploads_and_one_without_a_waveform_is_a_422(api):
    from io import BytesIO
    from pathlib import Path

    import pydicom

    sample = Path(__file__).parents[1] / "fixtures" / "dicom" / "waveform_ecg.dcm"
    ds = pydicom.dcmread(sample)
    del ds.WaveformSequence
    empty = BytesIO()
    ds.save_as(empty)
    r = _upload(api, [("files", ("empty.dcm", empty.getvalue()))])
    assert r.status_code == 422 and "no waveform module" in r.json()["detail"]["message"]
    r = _upload(api, [("files", (sample.name, sample.read_bytes()))])
    assert r.status_code == 201, r.text


def test_an_scp_ecg_uploads_and_a_truncated_one_is_a_422(api):
    from pathlib import Path

    sample = Path(__file__).parents[1] / "fixtures" / "scp" / "ecgtoolkit_example.scp"
    data = sample.read_bytes()
    r = _upload(api, [("files", ("cut.scp", data[: len(data) // 2]))])
    assert r.status_code == 422 and r.json()["detail"]["code"] == "truncated", r.text
    assert "cut.scp" in r.json()["detail"]["source"]
    r = _upload(api, [("files", (sample.name, data))])
    assert r.status_code == 201, r.text
    assert api.client.get("/api/v1/records", headers=api.h("alice")).json()["total"] == 1
