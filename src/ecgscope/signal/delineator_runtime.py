"""Running the learned delineator: its input preprocessing and the inference engines behind it.

The network (:mod:`ecgscope.signal.delineator_net`) is trained in PyTorch; for inference the shipped
weights also exist as an ONNX graph (``weights/delineator_unet.onnx``, exported from the ``.pt`` by
:func:`~ecgscope.signal.delineator_net.export_delineator_onnx`).  ONNX Runtime runs that graph
faster than PyTorch on one CPU core (12 leads x 10 s: ~8 vs ~20 ms) and without importing
torch at all, which keeps a deployment that uses the ONNX classifier free of torch's memory.

:func:`delineator_runtime` picks the engine: ``"auto"`` (ONNX Runtime when it is installed and the
graph exists, else PyTorch), ``"onnx"`` or ``"torch"``.  Both give the same logits to about 1e-5;
:func:`sample_classes` turns them into per-sample classes and lead-averaged probabilities.  This module
imports neither torch nor onnxruntime until an engine is asked for.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ecgscope.onnx_session import cpu_session
from ecgscope.signal.filters import remove_baseline
from ecgscope.signal.resample import resample_array

MODEL_FS = 250.0
CLASSES = ("background", "P", "QRS", "T")
WEIGHTS_FILE = "delineator_unet.pt"
RUNTIMES = ("auto", "onnx", "torch")
_CLIP = 8.0
_MIN_SCALE_MV = 0.05


def normalize_leads(x: np.ndarray, fs: float) -> np.ndarray:
    """(L, N) mV at ``fs`` -> (L, T) at 250 Hz: baseline removed (0.5 Hz zero-phase high-pass, as
    :func:`~ecgscope.signal.filters.remove_baseline`), each lead divided by its 99th percentile of |x|
    (at least 0.05 mV, so a flat lead stays near zero), clipped to ±8."""
    x = np.asarray(x, dtype=np.float32)
    if fs != MODEL_FS:
        x = resample_array(x, fs, MODEL_FS)
    x = remove_baseline(x, MODEL_FS, "highpass", 0.5)
    scale = np.maximum(np.percentile(np.abs(x), 99, axis=-1, keepdims=True), _MIN_SCALE_MV)
    return np.clip(x / scale, -_CLIP, _CLIP).astype(np.float32)


def context_channel(xn: np.ndarray, live: np.ndarray | None = None) -> np.ndarray:
    """RMS over the (live) normalised leads: (L, T) -> (T,)."""
    use = xn if live is None or not live.any() else xn[live]
    return np.sqrt(np.mean(use * use, axis=0))


def delineator_input(x: np.ndarray, fs: float, live: np.ndarray | None = None) -> np.ndarray:
    """(L, N) mV at ``fs`` -> (L, 2, T) float32 model input at 250 Hz."""
    xn = normalize_leads(x, fs)
    ctx = np.broadcast_to(context_channel(xn, live), xn.shape)
    return np.ascontiguousarray(np.stack([xn, ctx], axis=1))


class OnnxDelineator:
    """ONNX Runtime session on an exported delineator graph: (L, 2, T) -> (L, 4, T) logits.

    The graph may take (L, 2, 1, T) (the 2-D form :func:`~ecgscope.signal.delineator_net.export_delineator_onnx`
    writes, faster in ONNX Runtime) or (L, 2, T) (graphs exported before it); either way the caller
    passes and gets 3-D arrays.  Single-threaded: the delineator is one step of a pipeline that callers
    parallelise over records.
    """

    engine = "onnx"

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self.session = cpu_session(self.path)
        graph_input = self.session.get_inputs()[0]
        self._input = graph_input.name
        self._two_d = len(graph_input.shape) == 4

    def __call__(self, inp: np.ndarray) -> np.ndarray:
        inp = np.ascontiguousarray(inp, dtype=np.float32)
        if self._two_d:
            (logits,) = self.session.run(None, {self._input: inp[:, :, None, :]})
            return logits[:, :, 0, :]
        (logits,) = self.session.run(None, {self._input: inp})
        return logits


class TorchDelineator:
    """The PyTorch model (BatchNorm folded): (L, 2, T) -> (L, 4, T) logits."""

    engine = "torch"

    def __init__(self, path: str | os.PathLike | None = None):
        from ecgscope.signal.delineator_net import load_delineator

        self.path = None if path is None else str(path)
        self.model, self.meta = load_delineator(self.path)

    def __call__(self, inp: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(np.ascontiguousarray(inp, dtype=np.float32))).numpy()


def sample_classes(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L, 4, T) logits -> each lead's class per sample (L, T) int8 (the argmax) and the class
    probabilities averaged over the leads (4, T).

    Written out class by class because NumPy's ``argmax`` and ``softmax`` along a short middle axis
    are slow: this takes ~0.5 ms for a 10-s 12-lead record instead of ~2 ms.  Ties go to the lower
    class, as ``argmax`` does.

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.random.default_rng(0).normal(size=(3, 4, 50)).astype(np.float32)
    >>> labels, mean_prob = sample_classes(logits)
    >>> bool((labels == logits.argmax(axis=1)).all()), mean_prob.shape
    (True, (4, 50))
    """
    n_classes = logits.shape[1]
    best = logits[:, 0]
    labels = np.zeros((logits.shape[0], logits.shape[2]), np.int8)
    for c in range(1, n_classes):
        hit = (logits[:, c] > best).view(np.int8)
        labels += hit * (np.int8(c) - labels)  # labels = c where hit
        best = np.maximum(best, logits[:, c])
    e = np.exp(logits - best[:, None, :])  # best is the per-sample max: no overflow
    e /= e.sum(axis=1, keepdims=True)
    return labels, e.mean(axis=0)


def shipped_weights(name: str = WEIGHTS_FILE) -> Path:
    """Path of a file shipped in ``ecgscope/signal/weights`` (the package is installed unzipped)."""
    return Path(str(resources.files("ecgscope.signal") / "weights" / name))


@lru_cache(maxsize=8)
def delineator_runtime(runtime: str = "auto", model_path: str | None = None) -> OnnxDelineator | TorchDelineator:
    """The engine that runs the delineator (cached: one per process, runtime and weights).

    Parameters
    ----------
    runtime : {"auto", "onnx", "torch"}
        ``"auto"``: ONNX Runtime when it is installed and an ``.onnx`` graph of the weights exists, else
        PyTorch.  The environment variable ``ECGSCOPE_DELINEATOR_RUNTIME`` overrides ``"auto"``.
    model_path : str, optional
        Other weights: a ``.pt`` file (PyTorch, or its ``.onnx`` sibling with ONNX Runtime) or an
        ``.onnx`` graph.  Default: the shipped weights.

    Examples
    --------
    >>> import numpy as np
    >>> run = delineator_runtime("torch")
    >>> run(np.zeros((1, 2, 500), np.float32)).shape
    (1, 4, 500)
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown delineator runtime {runtime!r}; valid runtimes: {', '.join(RUNTIMES)}")
    if runtime == "auto":
        runtime = os.environ.get("ECGSCOPE_DELINEATOR_RUNTIME", "auto")
        if runtime not in RUNTIMES:
            raise ValueError(f"ECGSCOPE_DELINEATOR_RUNTIME={runtime!r} is not a delineator runtime; "
                             f"valid: {', '.join(RUNTIMES)}")
    pt = shipped_weights() if model_path is None else Path(model_path)
    onnx = pt if pt.suffix == ".onnx" else pt.with_suffix(".onnx")
    if runtime == "auto":
        runtime = "onnx" if onnx.exists() and importlib.util.find_spec("onnxruntime") is not None else "torch"
    if runtime == "onnx":
        if not onnx.exists():
            raise FileNotFoundError(f"no ONNX graph of the delineator at {onnx}; export one with "
                                    "ecgscope.signal.delineator_net.export_delineator_onnx")
        return OnnxDelineator(onnx)
    if pt.suffix == ".onnx":
        raise ValueError(f"{pt} is an ONNX graph: use runtime='onnx' (or 'auto') for it")
    return TorchDelineator(model_path)
