"""Malformed input made from real records: every case gets its own specific error, never a traceback."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ecgscope.cli import main
from ecgscope.errors import ECGScopeError
from ecgscope.io import load_record, save_record


@pytest.fixture(scope="module")
def real(data_dir):
    return {
        "ludb": load_record(data_dir / "ludb" / "data" / "1.hea"),
        "mitdb_dir": data_dir / "mitdb",
        "ludb_dir": data_dir / "ludb" / "data",
        "ptbxl_dir": data_dir / "ptbxl" / "records500" / "00000",
        "cinc_dir": data_dir / "cinc2017",
        "cpsc_dir": data_dir / "cpsc2019_sample" / "data",
    }


def _copy_wfdb(src_dir: Path, name: str, dst: Path) -> Path:
    for f in src_dir.glob(f"{name}.*"):
        shutil.copy(f, dst / f.name)
    for f in src_dir.glob(f"{name}_*.dat"):
        shutil.copy(f, dst / f.name)
    return dst / f"{name}.hea"


def _csv(real, tmp: Path, name: str, mutate) -> Path:
    path = save_record(real["ludb"], tmp / name)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(mutate(lines)) + "\n")
    return path


def _json(real, tmp: Path, name: str, mutate) -> Path:
    path = save_record(real["ludb"], tmp / name)
    obj = json.loads(path.read_text())
    out = mutate(obj)
    path.write_text(out if isinstance(out, str) else json.dumps(out))
    return path


def _truncate(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# ---------------------------------------------------------------- the cases: (builder, expected code, fragment)
def case_truncated_dat16(real, tmp):
    hea = _copy_wfdb(real["ludb_dir"], "1", tmp)
    _truncate(tmp / "1.dat", 0.5)
    return hea


def case_truncated_dat212(real, tmp):
    hea = _copy_wfdb(real["mitdb_dir"], "100", tmp)
    _truncate(tmp / "100.dat", 0.9)
    return hea


def case_header_promises_more_samples(real, tmp):
    hea = _copy_wfdb(real["ludb_dir"], "1", tmp)
    text = hea.read_text().splitlines()
    text[0] = "1 12 500 9000"
    hea.write_text("\n".join(text) + "\n")
    return hea


def case_header_declares_more_signals(real, tmp):
    hea = _copy_wfdb(real["ludb_dir"], "1", tmp)
    text = hea.read_text().splitlines()
    text[0] = "1 13 500 5000"
    hea.write_text("\n".join(text) + "\n")
    return hea


def case_missing_dat(real, tmp):
    hea = _copy_wfdb(real["ludb_dir"], "1", tmp)
    (tmp / "1.dat").unlink()
    return hea


def case_empty_dat(real, tmp):
    hea = _copy_wfdb(real["ludb_dir"], "1", tmp)
    (tmp / "1.dat").write_bytes(b"")
    return hea


def case_garbage_header(real, tmp):
    hea = _copy_wfdb(real["ludb_dir"], "1", tmp)
    hea.write_text("this is not a header\n" + hea.read_text())
    return hea


def case_header_escapes_directory(real, tmp):
    hea = _copy_wfdb(real["ludb_dir"], "1", tmp)
    hea.write_text(hea.read_text().replace("1.dat", "../1.dat"))
    return hea


def case_unknown_units(real, tmp):
    hea = _copy_wfdb(real["mitdb_dir"], "100", tmp)
    hea.write_bytes(hea.read_bytes().replace(b"212 200 11", b"212 200/furlong 11", 1))
    return hea


def case_truncated_flac(real, tmp):
    hea = _copy_wfdb(real["ptbxl_dir"], "00002_hr", tmp)
    _truncate(tmp / "00002_hr_2.dat", 0.3)
    return hea


def case_dat_without_header(real, tmp):
    shutil.copy(real["ludb_dir"] / "1.dat", tmp / "1.dat")
    return tmp / "1.dat"


def case_empty_file(real, tmp):
    (tmp / "empty.csv").write_bytes(b"")
    return tmp / "empty.csv"


def case_csv_only_comments(real, tmp):
    (tmp / "c.csv").write_text("# fs=500\n# units=mV\n")
    return tmp / "c.csv"


def case_csv_header_only(real, tmp):
    return _csv(real, tmp, "h.csv", lambda ls: ls[:2])


def case_csv_ragged(real, tmp):
    return _csv(real, tmp, "r.csv", lambda ls: ls[:100] + [ls[100] + ",0.1"] + ls[101:])


def _replace_cell(lines: list[str], row: int, col: int, value: str) -> list[str]:
    parts = lines[row].split(",")
    parts[col] = value
    return [*lines[:row], ",".join(parts), *lines[row + 1 :]]


def case_csv_non_numeric(real, tmp):
    return _csv(real, tmp, "n.csv", lambda ls: _replace_cell(ls, 50, 1, "abc"))


def case_csv_empty_cell(real, tmp):
    return _csv(real, tmp, "e.csv", lambda ls: _replace_cell(ls, 70, 3, ""))


def case_csv_no_header(real, tmp):
    return _csv(real, tmp, "nh.csv", lambda ls: ls[2:])


def case_csv_no_fs(real, tmp):
    # drop the "# fs=" comment and the time column
    return _csv(real, tmp, "nofs.csv", lambda ls: [",".join(ln.split(",")[1:]) for ln in ls[1:]])


def case_csv_irregular_time(real, tmp):
    def mutate(ls):
        rows = ls[2:]
        rows[10] = ",".join(["0.5", *rows[10].split(",")[1:]])
        return [ls[1], *rows]

    return _csv(real, tmp, "t.csv", mutate)


def case_csv_nan_run(real, tmp):
    def mutate(ls):
        for i in range(300, 340):
            ls = _replace_cell(ls, i, 2, "nan")
        return ls

    return _csv(real, tmp, "nan.csv", mutate)


def case_csv_microvolts_as_mv(real, tmp):
    rec = real["ludb"]
    path = tmp / "uv.csv"
    np.savetxt(path, rec.signal.T * 1000, delimiter=",", header=",".join(rec.leads), comments="", fmt="%.3f")
    path.write_text("# fs=500; units=mV\n" + path.read_text())
    return path


def case_csv_too_short(real, tmp):
    return _csv(real, tmp, "short.csv", lambda ls: ls[: 2 + 500])


def case_csv_fs_contradicts_time(real, tmp):
    return _csv(real, tmp, "fs.csv", lambda ls: [ls[0].replace("fs=500.0", "fs=250"), *ls[1:]])


def case_csv_binary_content(real, tmp):
    shutil.copy(real["ludb_dir"] / "1.dat", tmp / "bin.csv")
    return tmp / "bin.csv"


def case_csv_duplicate_leads(real, tmp):
    return _csv(real, tmp, "dup.csv", lambda ls: [ls[0], ls[1].replace("aVR", "II"), *ls[2:]])


def case_json_syntax(real, tmp):
    return _json(real, tmp, "s.json", lambda o: json.dumps(o)[:-50])


def case_json_no_signal(real, tmp):
    return _json(real, tmp, "ns.json", lambda o: {k: v for k, v in o.items() if k != "signal"})


def case_json_ragged_leads(real, tmp):
    def mutate(o):
        o["signal"][3] = o["signal"][3][:-10]
        return o

    return _json(real, tmp, "rl.json", mutate)


def case_json_non_numeric(real, tmp):
    def mutate(o):
        o["signal"][0][17] = "x"
        return o

    return _json(real, tmp, "nn.json", mutate)


def case_json_no_fs(real, tmp):
    return _json(real, tmp, "nofs.json", lambda o: {k: v for k, v in o.items() if k != "fs"})


def case_json_fs_out_of_range(real, tmp):
    return _json(real, tmp, "fs.json", lambda o: {**o, "fs": 20})


def case_json_unknown_units(real, tmp):
    return _json(real, tmp, "u.json", lambda o: {**o, "units": "mmHg"})


def case_json_all_flat(real, tmp):
    return _json(real, tmp, "flat.json", lambda o: {**o, "signal": [[0.0] * 5000 for _ in o["signal"]]})


def case_json_not_an_object(real, tmp):
    (tmp / "list.json").write_text("[1, 2, 3]")
    return tmp / "list.json"


def case_edf_truncated(real, tmp):
    path = save_record(real["ludb"], tmp / "t.edf")
    _truncate(path, 0.4)
    return path


def case_edf_text_content(real, tmp):
    (tmp / "x.edf").write_text("I,II\n0.1,0.2\n")
    return tmp / "x.edf"


def case_unsupported_binary(real, tmp):
    (tmp / "blob.xyz").write_bytes(bytes(range(256)) * 64)
    return tmp / "blob.xyz"


def case_two_gigabytes(real, tmp):
    path = tmp / "huge.csv"
    with open(path, "wb") as fh:
        fh.truncate(2 * 1024**3)  # sparse: costs no disk
    return path


def case_npy_without_fs(real, tmp):
    np.save(tmp / "x.npy", real["ludb"].signal)
    return tmp / "x.npy"


def case_npy_3d(real, tmp):
    np.save(tmp / "x3.npy", real["ludb"].signal[None])
    return tmp / "x3.npy"


def case_mat_without_fs(real, tmp):
    shutil.copy(real["cpsc_dir"] / "data_00014.mat", tmp / "data_00014.mat")
    return tmp / "data_00014.mat"


def case_challenge_mat_without_header(real, tmp):
    shutil.copy(real["cinc_dir"] / "A00006.mat", tmp / "A00006.mat")
    return (tmp / "A00006.mat", {"fs": 300})


def case_zip_two_records(real, tmp):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("1", "2"):
            for ext in (".hea", ".dat"):
                zf.write(real["ludb_dir"] / f"{name}{ext}", f"{name}{ext}")
    (tmp / "two.zip").write_bytes(buf.getvalue())
    return tmp / "two.zip"


def case_zip_corrupt(real, tmp):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(real["ludb_dir"] / "1.hea", "1.hea")
    (tmp / "bad.zip").write_bytes(buf.getvalue()[:40])
    return tmp / "bad.zip"


def case_directory(real, tmp):
    return tmp


def case_missing_file(real, tmp):
    return tmp / "nope.csv"


CASES = {
    "truncated_dat16": (case_truncated_dat16, "truncated_data", "truncated"),
    "truncated_dat212": (case_truncated_dat212, "truncated_data", "truncated"),
    "header_promises_more_samples": (case_header_promises_more_samples, "truncated_data", "promises 9000 samples"),
    "header_declares_more_signals": (case_header_declares_more_signals, "bad_header", "13 signals"),
    "missing_dat": (case_missing_dat, "not_found", "1.dat"),
    "empty_dat": (case_empty_dat, "truncated_data", "truncated"),
    "garbage_header": (case_garbage_header, "bad_header", "header"),
    "header_escapes_directory": (case_header_escapes_directory, "bad_header", "signal line"),
    "unknown_units": (case_unknown_units, "unknown_units", "furlong"),
    "truncated_flac": (case_truncated_flac, "bad_signal_data", "cannot decode"),
    "dat_without_header": (case_dat_without_header, "not_found", "1.hea"),
    "empty_file": (case_empty_file, "empty_file", "empty"),
    "csv_only_comments": (case_csv_only_comments, "empty_csv", "no header"),
    "csv_header_only": (case_csv_header_only, "empty_csv", "no data rows"),
    "csv_ragged": (case_csv_ragged, "ragged_rows", "has 14 fields but the header"),
    "csv_non_numeric": (case_csv_non_numeric, "non_numeric", "'abc'"),
    "csv_empty_cell": (case_csv_empty_cell, "non_numeric", "empty value"),
    "csv_no_header": (case_csv_no_header, "no_header", "header row"),
    "csv_no_fs": (case_csv_no_fs, "missing_fs", "pass fs"),
    "csv_irregular_time": (case_csv_irregular_time, "bad_time_column", "time column"),
    "csv_nan_run": (case_csv_nan_run, "nonfinite_samples", "lead II has 40 non-finite"),
    "csv_microvolts_as_mv": (case_csv_microvolts_as_mv, "implausible_amplitude", "microvolts"),
    "csv_too_short": (case_csv_too_short, "too_short", "at least 2 s"),
    "csv_fs_contradicts_time": (case_csv_fs_contradicts_time, "fs_mismatch", "disagrees"),
    "csv_binary_content": (case_csv_binary_content, "content_mismatch", "binary"),
    "csv_duplicate_leads": (case_csv_duplicate_leads, "duplicate_leads", "unique"),
    "json_syntax": (case_json_syntax, "bad_json", "invalid JSON"),
    "json_no_signal": (case_json_no_signal, "bad_json", "'signal'"),
    "json_ragged_leads": (case_json_ragged_leads, "ragged_leads", "aVR=4990"),
    "json_non_numeric": (case_json_non_numeric, "non_numeric", "index 17"),
    "json_no_fs": (case_json_no_fs, "missing_fs", "'fs'"),
    "json_fs_out_of_range": (case_json_fs_out_of_range, "fs_out_of_range", "fs=20"),
    "json_unknown_units": (case_json_unknown_units, "unknown_units", "mmHg"),
    "json_all_flat": (case_json_all_flat, "all_leads_flat", "flat"),
    "json_not_an_object": (case_json_not_an_object, "bad_json", "object"),
    "edf_truncated": (case_edf_truncated, "bad_edf", "EDF"),
    "edf_text_content": (case_edf_text_content, "content_mismatch", "not EDF"),
    "unsupported_binary": (case_unsupported_binary, "unsupported_format", "cannot tell the format"),
    "two_gigabytes": (case_two_gigabytes, "file_too_large", "2048.0 MiB"),
    "npy_without_fs": (case_npy_without_fs, "missing_fs", "sampling rate"),
    "npy_3d": (case_npy_3d, "bad_shape", "1-D or 2-D"),
    "mat_without_fs": (case_mat_without_fs, "missing_fs", "sampling rate"),
    "challenge_mat_without_header": (case_challenge_mat_without_header, "implausible_amplitude", "not millivolts"),
    "zip_two_records": (case_zip_two_records, "multiple_records", "one record"),
    "zip_corrupt": (case_zip_corrupt, "bad_zip", "zip"),
    "directory": (case_directory, "unsupported_format", "directory"),
    "missing_file": (case_missing_file, "not_found", "no such file"),
}


def test_at_least_thirty_distinct_cases():
    assert len(CASES) >= 30
    assert len({code for _, code, _ in CASES.values()}) >= 20


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_gets_its_specific_error(name, real, tmp_path, capsys):
    build, code, fragment = CASES[name]
    made = build(real, tmp_path)
    path, kwargs = made if isinstance(made, tuple) else (made, {})
    with pytest.raises(ECGScopeError) as exc:
        load_record(path, **kwargs)
    err = exc.value
    assert err.code == code, f"{name}: got {err.code}: {err}"
    assert fragment in str(err), f"{name}: {err}"
    assert err.source, "the error names the file"
    # the CLI prints one line naming the file and exits 2, without a traceback
    argv = ["info", str(path)] + (["--fs", str(kwargs["fs"])] if "fs" in kwargs else [])
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.err.startswith("error: ") and "Traceback" not in out.err + out.out
    assert fragment in out.err
