"""The fast single-segment WFDB route gives exactly what wfdb.rdrecord gives, on real records of every dataset."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from ecgscope.io._wfdb_fast import read_digital

SAMPLES = {
    "ptbxl/records500": 60,
    "ptbxl/records100": 60,
    "ludb/data": 40,
    "mitdb": 23,
    "cinc2017": 60,
    "cpsc2021_sample": 18,
}


def _records(data_dir, folder, n):
    heads = sorted((data_dir / folder).rglob("*.hea"))
    step = max(1, len(heads) // n)
    return [h.with_suffix("") for h in heads[::step][:n]]


@pytest.mark.parametrize("folder", sorted(SAMPLES))
def test_fast_route_matches_wfdb(data_dir, folder):
    for base in _records(data_dir, folder, SAMPLES[folder]):
        fast = read_digital(base)
        assert fast is not None, f"fast route declined a plain record: {base}"
        ref = wfdb.rdrecord(str(base), physical=False, return_res=32)
        np.testing.assert_array_equal(fast.d_signal, ref.d_signal)
        for field in ("fs", "sig_len", "n_sig", "sig_name", "units", "adc_gain", "baseline", "fmt", "comments",
                      "byte_offset", "init_value", "adc_res", "adc_zero"):
            assert getattr(fast, field) == getattr(ref, field), (base, field)


def test_fast_route_declines_what_it_does_not_handle(data_dir, tmp_path):
    (tmp_path / "multi.hea").write_text("multi/2 2 500 5000\nseg0 2500\nseg1 2500\n")
    assert read_digital(tmp_path / "multi") is None
    (tmp_path / "broken.hea").write_text("broken 1 500 5000\nbroken.dat 16 nonsense\n")
    assert read_digital(tmp_path / "broken") is None
