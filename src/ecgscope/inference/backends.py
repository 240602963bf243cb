"""Where window logits are computed: PyTorch (the bundle) or ONNX Runtime (the exported graph)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ecgscope.errors import MissingInputError
from ecgscope.onnx_session import cpu_session

BACKENDS = ("torch", "onnx", "onnx-int8")
INT8_FILE = "model.int8.onnx"  # the package's int8 network, shipped where it keeps the float network's accuracy
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

    def __init__(self, onnx_path: str | os.PathLike, threads: int | None = None, batch_size: int = 256,
                 name: str = "onnx"):
        p = Path(onnx_path)
        self.name = name
        if not p.is_file() and name == "onnx-int8":
            raise MissingInputError("this model package ships no int8 network (model.int8.onnx: its int8 check on "
                                    "validation did not pass, or it was never quantised); use backend='onnx'",
                                    source=str(p), code="onnx_missing")
        if not p.is_file():
            raise MissingInputError("this model package has no model.onnx; export it with `ecgscope export` "
                                    "or use backend='torch'", source=str(p), code="onnx_missing")
        self.session = cpu_session(p)
        self.batch_size = batch_size
        self.threads = max(1, threads or 1)
        self._pool = None

    def logits_serial(self, x: np.ndarray) -> np.ndarray:
        """Window logits on the calling thread alone (callers that run several at once, one per thread)."""
        out = []
        for i in range(0, len(x), self.batch_size):
            chunk = np.ascontiguousarray(x[i : i + self.batch_size], dtype=np.float32)
            out.append(self.session.run([ONNX_OUTPUT], {ONNX_INPUT: chunk})[0])
        return np.concatenate(out)

    def logits(self, windows: np.ndarray) -> np.ndarray:
        n_parts = min(self.threads, len(windows) // self.MIN_WINDOWS_PER_THREAD)
        if n_parts <= 1:
            return self.logits_serial(windows)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="ecgscope-onnx")
        parts = np.array_split(np.arange(len(windows)), n_parts)
        return np.concatenate(list(self._pool.map(lambda idx: self.logits_serial(windows[idx[0]: idx[-1] + 1]),
                                                  parts)))


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


INT8_CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


def quantize_int8(fp32_path: str | os.PathLike, out_path: str | os.PathLike, calibration: np.ndarray, *,
                  sensitivity_share: float = 0.999, batch: int = 20, method: str = "minmax") -> dict:
    """Static int8 quantisation of an exported network (ONNX Runtime QDQ: per-channel int8 weights, uint8
    activations, ranges from ``calibration`` windows), keeping in float the convolutions it would hurt.

    ``method`` sets the activation ranges: ``minmax`` (the extremes seen, smoothed over batches),
    ``percentile`` (the 99.999th percentile of |activation|: one outlier no longer widens every step) or
    ``entropy`` (the range that keeps the activation histogram closest, in KL divergence, to its quantised copy).

    Which convolutions stay float is measured, not guessed: each one is quantised alone and the mean squared
    change of the logits on half of the calibration windows is its sensitivity; the fewest convolutions that
    together hold ``sensitivity_share`` of the summed sensitivity stay float (for the shipped 12-lead network:
    the first one alone, which sees the raw z-scored signal, ~99 %).  Only convolutions are quantised: the
    hand-crafted feature branches (log, means, roots) and the head stay float.

    Returns the report written beside the package's int8 network: the excluded nodes and every sensitivity.
    """
    import tempfile

    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method not in INT8_CALIBRATION_METHODS:
        raise ValueError(f"unknown int8 calibration method {method!r}; valid methods: "
                         f"{', '.join(INT8_CALIBRATION_METHODS)}")
    calibrate_method, options = {"minmax": (CalibrationMethod.MinMax, {"CalibMovingAverage": True}),
                                 "percentile": (CalibrationMethod.Percentile, {"CalibPercentile": 99.999}),
                                 "entropy": (CalibrationMethod.Entropy, {})}[method]
    x = np.ascontiguousarray(calibration, dtype=np.float32)
    n = (len(x) // (2 * batch)) * 2 * batch  # whole batches in both halves (the calibrator stacks them)
    if n < 2 * batch:
        raise ValueError(f"int8 calibration needs at least {2 * batch} windows; got {len(x)}")
    x = x[:n]
    fit, held = x[: n // 2], x[n // 2:]

    class _Reader(CalibrationDataReader):
        def __init__(self, data: np.ndarray):
            self._it = iter([{ONNX_INPUT: data[i:i + batch]} for i in range(0, len(data), batch)])

        def get_next(self):
            return next(self._it, None)

    def quantize(src: str, dst: str, data: np.ndarray, **kw) -> None:
        quantize_static(src, dst, _Reader(data), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
                        calibrate_method=calibrate_method, extra_options=options, **kw)

    def logits(path: str, data: np.ndarray) -> np.ndarray:
        session = cpu_session(path)
        return np.concatenate([session.run([ONNX_OUTPUT], {ONNX_INPUT: data[i:i + 64]})[0]
                               for i in range(0, len(data), 64)])

    with tempfile.TemporaryDirectory() as tmp:
        pre = str(Path(tmp) / "pre.onnx")
        quant_pre_process(str(fp32_path), pre, skip_symbolic_shape=True)
        reference = logits(pre, held)
        convs = [node.name for node in onnx.load(pre).graph.node if node.op_type == "Conv"]
        sensitivity = {}
        for name in convs:
            one = str(Path(tmp) / "one.onnx")
            quantize(pre, one, fit, nodes_to_quantize=[name])
            sensitivity[name] = float(np.mean((logits(one, held) - reference) ** 2))
        ranked = sorted(sensitivity, key=sensitivity.get, reverse=True)
        total, excluded, held_share = sum(sensitivity.values()), [], 0.0
        for name in ranked:
            if held_share >= sensitivity_share * total:
                break
            excluded.append(name)
            held_share += sensitivity[name]
        # ranges from the fitting half only, so the logit change reported on the other half is a held-out figure
        # (what a choice between calibration methods is made on)
        quantize(pre, str(out_path), fit, nodes_to_exclude=excluded)
        final = float(np.mean((logits(str(out_path), held) - reference) ** 2))
    return {"method": f"ONNX Runtime static QDQ: per-channel int8 weights, uint8 activations, {method} "
                      "calibration; convolutions only", "calibration_method": method,
            "calibration_windows": int(n), "range_windows": int(n // 2), "sensitivity_share": sensitivity_share,
            "convolutions": len(convs),
            "excluded": excluded, "excluded_share": held_share / total if total > 0 else 0.0, "sensitivity": sensitivity,
            "held_out_logit_mse": final}
