"""The one way ecgscope opens an ONNX Runtime session (classifier graphs and the delineator)."""

from __future__ import annotations

import os


def cpu_session(path: str | os.PathLike):
    """A single-threaded CPU ``onnxruntime.InferenceSession`` with every graph optimisation.

    Single-threaded because ecgscope's graphs are small: ONNX Runtime's intra-op pool costs more in
    per-operator hand-offs than it saves, and callers that want parallelism run several ``run`` calls
    at once (``InferenceSession.run`` is thread-safe and releases the GIL).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
