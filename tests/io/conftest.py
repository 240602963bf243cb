"""Shared checks of the reader tests."""

from __future__ import annotations

import pytest

from ecgscope.errors import ECGScopeError, RecordFormatError
from ecgscope.io import load_record


@pytest.fixture
def assert_refused(tmp_path):
    """``assert_refused(data, name, code, words)``: ``data`` is refused, as a file and as bytes named ``name``,
    with a :class:`RecordFormatError` of ``code`` (None: any ECGScopeError) whose message has ``words`` and
    whose source names the file."""

    def check(data: bytes, name: str, code: str | None, words: str) -> None:
        path = tmp_path / name
        path.write_bytes(data)
        for source in (path, data):
            with pytest.raises(ECGScopeError) as info:
                load_record(source, name=name) if isinstance(source, bytes) else load_record(source)
            err = info.value
            if code is not None:
                assert isinstance(err, RecordFormatError) and err.code == code, (err.code, err.message)
            assert words in err.message, err.message
            assert name in str(err.source)

    return check


@pytest.fixture
def analyzed_by_cli(capsys):
    """``analyzed_by_cli(path)``: ``ecgscope analyze PATH --json`` as a user runs it, its result checked against the
    shipped schema."""
    import json

    from ecgscope.cli import main
    from ecgscope.inference.schema import AnalysisResult

    def run(path) -> dict:
        assert main(["analyze", str(path), "--json"]) == 0
        d = json.loads(capsys.readouterr().out)
        AnalysisResult.model_validate(d)
        return d

    return run
