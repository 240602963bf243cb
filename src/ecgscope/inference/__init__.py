"""Inference: one call from a record to a calibrated, explained clinical result (DESIGN §4).

>>> from ecgscope.inference import Analyzer, list_pretrained
>>> [m["name"] for m in list_pretrained()]                      # doctest: +SKIP
['ecgscope-17-12lead', 'ecgscope-17-1lead', 'ecgscope-af-1lead']
"""

from ecgscope.inference.analyzer import Analyzer, Result, choose_model, list_pretrained
from ecgscope.inference.backends import BACKENDS, export_onnx
from ecgscope.inference.package import build_package, fit_calibration, load_package
from ecgscope.inference.schema import SCHEMA_VERSION, AnalysisResult, json_schema, load_json_schema

__all__ = [
    "BACKENDS", "SCHEMA_VERSION", "AnalysisResult", "Analyzer", "Result", "build_package", "choose_model", "export_onnx",
    "fit_calibration", "json_schema", "list_pretrained", "load_json_schema", "load_package",
]
