"""The shipped JSON Schema is the one the result models generate."""

from ecgscope.inference.schema import json_schema, load_json_schema


def test_shipped_schema_is_current():
    assert load_json_schema() == json_schema(), (
        "analysis.schema.json is stale: run `python -m ecgscope.inference.schema`")
