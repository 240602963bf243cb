"""``ecgscope report``: the server's PDF from the command line, with the cart's own reading beside ecgscope's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ecgscope.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _text(pdf: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is needed: apt-get install poppler-utils")
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_a_cart_file_becomes_a_report_with_the_carts_reading_and_the_median_beats(tmp_path, capsys):
    out = tmp_path / "scp.pdf"
    assert main(["report", str(FIXTURES / "scp" / "welchallyn_mdw14_anon4.scp"), "-o", str(out)]) == 0
    assert "tracing, findings and median beats (ecgscope-17-12lead)" in capsys.readouterr().out
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 3
    text = _text(out)
    assert "ecgscope ECG report" in text and "page 3/3" in text and "Median beats:" in text
    assert "Sinus rhythm" in text and "ecgscope-17-12lead" in text
    assert "The cart's own reading" in text and "sinusrytm" in text and "QRSDuration 88" in text
    assert "ANON000004" in text  # the file's patient id in the header


def test_tracing_only_a_single_lead_strip_and_refusals(tmp_path, capsys, data_dir):
    out = tmp_path / "strip.pdf"
    assert main(["report", str(data_dir / "cinc2017" / "A00006.hea"), "-o", str(out), "--tracing-only"]) == 0
    text = _text(out)
    assert "page 1/1" in text and "Classification" not in text
    assert main(["report", str(data_dir / "cinc2017" / "A00006.hea"), "-o", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    cut = tmp_path / "cut.scp"
    cut.write_bytes((FIXTURES / "scp" / "ecgtoolkit_example.scp").read_bytes()[:4000])
    assert main(["report", str(cut), "-o", str(tmp_path / "cut.pdf")]) == 2
    err = capsys.readouterr().err
    assert "cut.scp" in err and "truncated" in err and not (tmp_path / "cut.pdf").exists()
