"""The Holter PDF from the command line: a summary page and a page of event strips, on real MIT-BIH records."""

from __future__ import annotations

import re

from ecgscope.holter import holter_analyze
from ecgscope.report.holter_pdf import _events, render_holter_report


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_holter_pdf_from_the_cli_with_event_strips(data_dir, tmp_path, capsys):
    from ecgscope.cli import main

    out = tmp_path / "r106.pdf"
    assert main(["holter", str(data_dir / "mitdb" / "106"), "--pdf", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and _pages(data) == 2
    assert not list(tmp_path.glob("*.part"))
    # the strips show the fastest ventricular run (106 has V runs) and are centred on it
    events = _events(holter_analyze(data_dir / "mitdb" / "106").to_dict())
    assert any(t.startswith("Fastest ventricular run") for t, _ in events)
    # an existing PDF is kept unless --force
    assert main(["holter", str(data_dir / "mitdb" / "106"), "--pdf", str(out)]) != 0
    assert "exists" in capsys.readouterr().err and out.read_bytes() == data


def test_holter_pdf_of_a_record_with_nothing_to_show(data_dir):
    res = holter_analyze(data_dir / "mitdb" / "115")  # sinus rhythm: no V beat, pause or AF
    d = res.to_dict()
    assert not _events(d) and (res.classes == "V").sum() == 0
    pdf = render_holter_report(data_dir / "mitdb" / "115", res)
    assert _pages(pdf) == 2
