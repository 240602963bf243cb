import numpy as np
import pytest

from ecgscope.errors import RecordValidationError
from ecgscope.leads import normalize_lead_name, parse_lead_list
from ecgscope.record import Record


def _ecg(n_leads=2, n=2500, fs=500):
    t = np.arange(n) / fs
    return np.vstack([np.sin(2 * np.pi * 1.1 * t + i) for i in range(n_leads)]).astype(np.float32)


def test_valid_record_normalises_leads_and_dtype():
    rec = Record(_ecg(3).astype(np.float64), fs=500, leads=["avr", "MLII", "CM5"])
    assert rec.leads == ("aVR", "II", "CM5")
    assert rec.unknown_leads == ("CM5",)
    assert rec.signal.dtype == np.float32 and rec.signal.flags.c_contiguous
    assert not rec.signal.flags.writeable
    assert rec.duration_s == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("kwargs", "code", "fragment"),
    [
        ({"signal": np.zeros(2500)}, "bad_shape", "2-D"),
        ({"leads": ["I"]}, "lead_count_mismatch", "1 names but signal has 2"),
        ({"fs": 20}, "fs_out_of_range", "fs=20"),
        ({"fs": 20000}, "fs_out_of_range", "fs=20000"),
        ({"fs": float("nan")}, "fs_out_of_range", "nan"),
        ({"signal": _ecg(2, 900)}, "too_short", "1.800 s"),
        ({"leads": ["I", "i"]}, "duplicate_leads", "['I']"),
        ({"signal": np.zeros((2, 2500))}, "all_leads_flat", "every lead is flat"),
        ({"signal": _ecg() * 1000}, "implausible_amplitude", "microvolts"),
        ({"signal": _ecg() / 1000}, "implausible_amplitude", "volts"),
        ({"signal": np.array([["a"] * 2500] * 2)}, "bad_dtype", "real numbers"),
    ],
)
def test_validation_names_field_and_value(kwargs, code, fragment):
    args = {"signal": _ecg(), "fs": 500, "leads": ["I", "II"], **kwargs}
    with pytest.raises(RecordValidationError) as exc:
        Record(**args)
    assert exc.value.code == code
    assert fragment in str(exc.value)


def test_an_implausible_single_lead_is_named():
    """A lead taken out of a multi-lead record may be an artifact, not wrong units: the message names the lead."""
    rec = Record(_ecg(3) * np.array([[100.0], [1.0], [1.0]]), fs=500, leads=["I", "II", "III"])
    with pytest.raises(RecordValidationError, match=r"^lead I: typical lead amplitude .* swamped by an artifact"):
        rec.select_leads(["I"])


def test_nan_run_is_located():
    sig = _ecg()
    sig[1, 100:250] = np.nan
    with pytest.raises(RecordValidationError, match=r"lead II has 150 non-finite .* samples 100–249"):
        Record(sig, fs=500, leads=["I", "II"])


def test_transposed_signal_hint():
    with pytest.raises(RecordValidationError, match="transpose"):
        Record(_ecg(2, 2500).T, fs=500, leads=["I", "II"])


def test_one_flat_lead_is_allowed_and_reported():
    sig = _ecg()
    sig[1] = 0.0
    rec = Record(sig, fs=500, leads=["I", "II"])
    assert rec.flat_leads == ("II",)


def test_from_array_units_and_defaults():
    rec = Record.from_array(_ecg(1)[0] * 1000, fs=500, units="uV")
    assert rec.leads == ("I",)
    assert np.abs(rec.signal).max() == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(RecordValidationError, match="unknown units"):
        Record.from_array(_ecg(1)[0], fs=500, units="furlongs")


def test_select_leads_and_lookup():
    rec = Record(_ecg(3), fs=500, leads=["I", "II", "V1"])
    sub = rec.select_leads(["v1", "I"])
    assert sub.leads == ("V1", "I")
    np.testing.assert_array_equal(sub.lead("V1"), rec.lead("V1"))
    with pytest.raises(KeyError, match="no lead"):
        rec.lead("V6")


@pytest.mark.parametrize(
    ("name", "std"), [("AVR", "aVR"), ("MLII", "II"), ("ECG", "I"), ("lead I", "I"), ("ECG V5", "V5"), ("D2", "II")]
)
def test_lead_aliases(name, std):
    assert normalize_lead_name(name) == (std, True)


def test_ptbxl_lead_lists():
    assert parse_lead_list("alles") == parse_lead_list("I-V6")
    assert len(parse_lead_list(" , I-AVF,  ")) == 6
    assert parse_lead_list("Kontaktprobleme aVL ???") == ("aVL",)
    assert parse_lead_list(None) == ()


def test_record_does_not_freeze_or_alias_the_callers_array():
    sig = _ecg()
    rec = Record(sig, fs=500, leads=["I", "II"])
    sig[0, :10] = 5.0  # still writeable, and the record is unaffected
    assert sig.flags.writeable and rec.signal[0, 0] != 5.0
