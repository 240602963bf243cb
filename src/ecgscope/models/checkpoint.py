"""Checkpoint files: ecgscope's own model bundle, reading foreign checkpoints, checked state loading.

A **bundle** is one ``.pt`` file holding everything needed to rebuild and use a model::

    {"format": "ecgscope.model-bundle", "version": 1, "kind": "classifier" | "encoder",
     "model": "ssm", "model_kwargs": {...}, "num_classes": 17,
     "pretrained_cfg": {... input_contract, labels, task ...}, "task": "ptbxl17",
     "state_dict": {...}, "metrics": {...}, "training": {...}, "ecgscope_version": "...", "created": "..."}

``kind="encoder"`` bundles (from self-supervised pretraining) carry no head: loading one into a
classifier leaves the head freshly initialised, and says so.  Bundles hold only plain Python types
and tensors, so they load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import datetime as _dt
import os
import pickle
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ecgscope.errors import ContractError, MissingInputError, RecordFormatError

BUNDLE_FORMAT = "ecgscope.model-bundle"
BUNDLE_VERSION = 1
BUNDLE_KINDS = ("classifier", "encoder")


def is_bundle(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == BUNDLE_FORMAT


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint file onto the CPU.

    Tensors-and-plain-types files (ecgscope bundles, most fairseq-signals and ST-MEM files) load
    with ``weights_only=True``.  A file that pickles other Python objects (an OmegaConf config, say)
    is loaded fully only after a warning: unpickling runs code, so load only files you trust.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingInputError("checkpoint file does not exist", source=str(p))
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if not (magic.startswith(b"PK\x03\x04") or magic[:1] == b"\x80"):  # torch's zip format, or legacy pickle
        raise RecordFormatError("not a readable PyTorch checkpoint (neither torch's zip nor pickle format)",
                                source=str(p))
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only load failed" not in str(err).lower():
            raise RecordFormatError(f"not a readable PyTorch checkpoint ({str(err).splitlines()[0]})",
                                    source=str(p)) from None
        warnings.warn(f"{p}: checkpoint pickles Python objects; loading it in full (only load trusted files)",
                      stacklevel=2)
        try:
            obj = torch.load(p, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
            raise RecordFormatError(f"not a readable PyTorch checkpoint ({exc})", source=str(p)) from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        raise RecordFormatError(f"not a readable PyTorch checkpoint ({err})", source=str(p)) from None
    if not isinstance(obj, dict):
        raise RecordFormatError(f"checkpoint holds a {type(obj).__name__}, expected a dict", source=str(p))
    return obj


def _plain(obj: Any) -> Any:
    """Tuples become lists etc., so the bundle loads with weights_only=True anywhere."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None or isinstance(obj, torch.Tensor):
        return obj
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def bundle_dict(model, *, kind: str = "classifier", task: str | None = None, metrics: dict | None = None,
                training: dict | None = None) -> dict[str, Any]:
    """The bundle of ``model`` as a dict (see the module docstring)."""
    from ecgscope import __version__

    if kind not in BUNDLE_KINDS:
        raise ValueError(f"unknown bundle kind {kind!r}; valid: {', '.join(BUNDLE_KINDS)}")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if kind == "encoder":
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
    cfg = model.pretrained_cfg
    if task is not None:
        cfg = cfg.replace(task=task)
    kwargs = {k: v for k, v in model.init_kwargs.items() if k != "num_classes"}
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "kind": kind,
        "model": model.model_name,
        "model_kwargs": _plain(kwargs),
        "num_classes": int(model.num_classes),
        "pretrained_cfg": _plain(cfg.to_dict()),
        "labels": list(cfg.labels),
        "task": cfg.task,
        "state_dict": state,
        "metrics": _plain(metrics or {}),
        "training": _plain(training or {}),
        "ecgscope_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def save_bundle(model, path: str | os.PathLike, **kw: Any) -> Path:
    """Write ``model`` as a bundle to ``path`` (atomically: a crash leaves no half file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    torch.save(bundle_dict(model, **kw), tmp)
    os.replace(tmp, p)
    return p


def _match(key: str, prefixes: Iterable[str]) -> bool:
    return any(key == p or key.startswith(p if p.endswith(".") else p + ".") for p in prefixes)


def load_state_checked(model: torch.nn.Module, state: dict[str, torch.Tensor], *, source: str,
                       allow_missing: Iterable[str] = (), allow_unexpected: Iterable[str] = (),
                       resizable: Iterable[str] = ()) -> dict[str, list[str]]:
    """Load ``state`` into ``model``; every tensor must land.

    Missing keys (in the model, not in ``state``), unexpected keys and shape mismatches raise
    :class:`ContractError` listing them, except keys under the prefixes in ``allow_missing`` /
    ``allow_unexpected`` (e.g. ``head`` when the number of classes differs).  ``resizable`` names
    buffers whose size is data-dependent (fitted kernels) and may differ.  Returns what was skipped.
    """
    own = model.state_dict()
    allow_missing, allow_unexpected, resizable = list(allow_missing), list(allow_unexpected), list(resizable)
    missing = [k for k in own if k not in state and not _match(k, allow_missing)]
    unexpected = [k for k in state if k not in own and not _match(k, allow_unexpected)]
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in state if k in own and tuple(state[k].shape) != tuple(own[k].shape) and not _match(k, resizable)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[:6]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[:6]})")
    if shapes:
        problems.append(f"{len(shapes)} with another shape (e.g. {shapes[:4]})")
    if problems:
        raise ContractError("checkpoint does not match the model: " + "; ".join(problems), source=source)
    usable = {k: v for k, v in state.items() if k in own}
    result = model.load_state_dict(usable, strict=False)
    # anything torch could not place is a bug in the name mapping, never a silent random init
    left = [k for k in result.missing_keys if not _match(k, allow_missing)]
    if left or result.unexpected_keys:
        raise ContractError(f"checkpoint tensors did not land: missing {left[:6]}, "
                            f"unexpected {result.unexpected_keys[:6]}", source=source)
    return {"missing_allowed": [k for k in own if k not in state],
            "unexpected_ignored": [k for k in state if k not in own]}
