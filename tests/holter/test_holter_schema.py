"""The shipped Holter JSON Schema is the one the report models generate, and real reports satisfy it (checked by
jsonschema, not by the models that made them)."""

from __future__ import annotations

import jsonschema
import pytest

from ecgscope.holter import holter_analyze
from ecgscope.holter.schema import HolterReport, json_schema, load_json_schema


def test_shipped_holter_schema_is_current():
    assert load_json_schema() == json_schema(), (
        "holter.schema.json is stale: run `python -m ecgscope.holter.schema`")


def test_a_real_report_satisfies_the_shipped_schema_and_a_broken_one_does_not(data_dir):
    report = holter_analyze(data_dir / "mitdb" / "119").to_dict()
    validator = jsonschema.Draft202012Validator(load_json_schema())
    validator.validate(report)
    broken = {**report, "beats": {**report["beats"], "total": -1}}
    assert not validator.is_valid(broken)
    with pytest.raises(ValueError, match="total"):
        HolterReport.model_validate(broken)
    assert not validator.is_valid({**report, "surprise": 1})  # no field the schema does not name
