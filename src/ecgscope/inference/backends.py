"""Where window logits are computed: PyTorch (the bundle) or ONNX Runtime (the exported graph)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ecgscope.errors import MissingInputError
from ecgscope.onnx_session import cpu_session

BACKENDS = ("torch", "onnx")
ONNX_INPUT = "windows"
ONNX_OUTPUT = "logits"


class TorchBackend:
    """Runs the model bundle with PyTorch (``torch.inference_mode``), in chunks of ``batch_size`` windows."""

    name = "torch"

    def __init__(self, bundle: str | os.PathLike, threads: int | None = None, batch_size: int = 256):
        import torch

        from ecgscope.models import load_model

        if threads:
            torch.set_num_threads(threads)
        self.model = load_model(bundle).eval()
        self.batch_size = batch_size

    def logits(self, windows: np.ndarray) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(windows), self.batch_size):
                x = torch.from_numpy(np.ascontiguousarray(windows[i : i + self.batch_size], dtype=np.float32))
                out.append(self.model(x).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.num_classes), np.float32)


class OnnxBackend:
    """Runs ``model.onnx`` with ONNX Runtime on the CPU.

    With ``threads`` > 1, a large batch is split into one chunk per thread, each run on the session's
    single-threaded executor concurrently (``InferenceSession.run`` is thread-safe and releases the GIL):
    for these small graphs that scales better than ONNX Runtime's intra-op pool, whose per-operator
    hand-offs dominate at this size, and a single record (1-2 windows) runs on the calling thread alone.
    """

    name = "onnx"
    MIN_WINDOWS_PER_THREAD = 16

    def __init__(self, onnx_path: str | os.PathLike, threads: int | None = None, batch_size: int = 256):
        p = Path(onnx_path)
        if not p.is_file():
            raise MissingInputError("this model package has no model.onnx; export it with `ecgscope export` "
                                    "or use backend='torch'", source=str(p), code="onnx_missing")
        self.session = cpu_session(p)
        self.batch_size = batch_size
        self.threads = max(1, threads or 1)
        self._pool = None

    def _run(self, x: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(x), self.batch_size):
            chunk = np.ascontiguousarray(x[i : i + self.batch_size], dtype=np.float32)
            out.append(self.session.run([ONNX_OUTPUT], {ONNX_INPUT: chunk})[0])
        return np.concatenate(out)

    def logits(self, windows: np.ndarray) -> np.ndarray:
        n_parts = min(self.threads, len(windows) // self.MIN_WINDOWS_PER_THREAD)
        if n_parts <= 1:
            return self._run(windows)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="ecgscope-onnx")
        parts = np.array_split(np.arange(len(windows)), n_parts)
        return np.concatenate(list(self._pool.map(lambda idx: self._run(windows[idx[0]: idx[-1] + 1]), parts)))


def export_onnx(bundle: str | os.PathLike, out_path: str | os.PathLike, *, opset: int = 17,
                quantize: bool = False) -> Path:
    """Export a model bundle to ONNX (dynamic batch), optionally with int8 dynamic quantisation.

    Models that generate their weights (the SSM's S4D kernels) are first frozen for the contract's window
    (``freeze_for_export``).  The dynamo exporter comes first and writes one self-contained file; the
    classic TorchScript exporter is the fallback.
    """
    import torch

    from ecgscope.models import load_model

    model = load_model(bundle).eval()
    c = model.pretrained_cfg.input_contract
    if hasattr(model, "freeze_for_export"):  # models whose weights generate kernels: fold them for the window
        model.freeze_for_export(c.window_samples)
    dummy = torch.randn(2, model.in_chans, c.window_samples)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    target = out.with_name(out.stem + ".fp32.onnx") if quantize else out
    try:
        torch.onnx.export(model, (dummy,), str(target), input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
                          dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, dynamo=True, external_data=False,
                          opset_version=max(opset, 18), verbose=False)
    except Exception:  # noqa: BLE001 - any dynamo failure: try the classic exporter, which raises clearly
        torch.onnx.export(model, (dummy,), str(target), input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
                          dynamic_axes={ONNX_INPUT: {0: "batch"}, ONNX_OUTPUT: {0: "batch"}}, opset_version=opset,
                          dynamo=False)
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(target), str(out), weight_type=QuantType.QInt8)
        target.unlink()
    return out
