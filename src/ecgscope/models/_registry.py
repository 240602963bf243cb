"""Model registry: ``register_model`` / ``list_models`` / ``create_model`` (timm's pattern).

Each model variant is one constructor function decorated with :func:`register_model`; its name is
the function name.  ``create_model(name, pretrained=path)`` accepts an ecgscope bundle (classifier
or pretrained encoder) or a foreign checkpoint the family knows how to convert (fairseq-signals
for ECG-FM, ST-MEM's ``{"model": ...}`` files).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from typing import Any

import torch

from ecgscope.errors import ContractError
from ecgscope.labels import LABELS
from ecgscope.models._base import ECGModel
from ecgscope.models.checkpoint import is_bundle, load_state_checked, read_checkpoint
from ecgscope.models.pretrained import PretrainedCfg

_MODEL_FNS: dict[str, Callable[..., ECGModel]] = {}
_MODEL_FAMILY: dict[str, str] = {}


def register_model(fn: Callable[..., ECGModel]) -> Callable[..., ECGModel]:
    """Register a model constructor under its function name (family = its module's name)."""
    name = fn.__name__
    if name in _MODEL_FNS:
        raise ValueError(f"model {name!r} is already registered")
    _MODEL_FNS[name] = fn
    _MODEL_FAMILY[name] = fn.__module__.rsplit(".", 1)[-1]
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching the shell-style ``pattern``, sorted."""
    return sorted(n for n in _MODEL_FNS if fnmatch.fnmatch(n, pattern))


def model_family(name: str) -> str:
    _check_name(name)
    return _MODEL_FAMILY[name]


def model_description(name: str) -> str:
    _check_name(name)
    doc = (_MODEL_FNS[name].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def _check_name(name: str) -> None:
    if name not in _MODEL_FNS:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(list_models())}")


def default_labels(num_classes: int) -> tuple[str, ...]:
    return LABELS if num_classes == len(LABELS) else tuple(f"class_{i}" for i in range(num_classes))


def create_model(name: str, pretrained: str | os.PathLike | dict | None = None, num_classes: int | None = None,
                 **kwargs: Any) -> ECGModel:
    """Build model ``name``; optionally load weights.

    Parameters
    ----------
    name : str
        One of :func:`list_models`.
    pretrained : path or dict, optional
        An ecgscope bundle (its saved constructor arguments are reused unless overridden here), or a
        foreign checkpoint of the model's family.  Every tensor must land: missing or unexpected
        keys raise :class:`~ecgscope.errors.ContractError`, except the classification head when
        ``num_classes`` (or the head kind) differs from the checkpoint's, which is then freshly
        initialised.
    num_classes : int, optional
        Outputs of the head (default: the bundle's, else the 17 ECG-FM labels).
    **kwargs
        Constructor arguments: ``head`` (linear|attn|ppa|pma|ipastmem), ``drop_rate``, ``drop_path_rate``,
        ``in_chans`` and family-specific ones.

    Examples
    --------
    >>> from ecgscope.models import create_model
    >>> m = create_model("ssm_tiny", num_classes=5)
    >>> m(torch.zeros(2, 12, 500)).shape
    torch.Size([2, 5])
    """
    _check_name(name)
    ckpt: dict | None = None
    source = "random init"
    if pretrained is not None:
        source = "<dict>" if isinstance(pretrained, dict) else str(pretrained)
        ckpt = pretrained if isinstance(pretrained, dict) else read_checkpoint(pretrained)
        if is_bundle(ckpt):
            if _MODEL_FAMILY.get(ckpt["model"]) != _MODEL_FAMILY[name]:
                raise ContractError(f"checkpoint holds a {ckpt['model']!r} model, not a {name!r} one", source=source)
            kwargs = {**ckpt["model_kwargs"], **kwargs}
            if num_classes is None and ckpt["kind"] == "classifier":
                num_classes = int(ckpt["num_classes"])
    num_classes = len(LABELS) if num_classes is None else int(num_classes)
    model = _MODEL_FNS[name](num_classes=num_classes, **kwargs)
    model.model_name = name
    model.init_kwargs = {"num_classes": num_classes, **kwargs}
    model.pretrained_cfg = model.pretrained_cfg.replace(labels=default_labels(num_classes))
    if ckpt is not None:
        load_pretrained(model, ckpt, source=source)
    return model


def _head_matches(model: ECGModel, state: dict[str, torch.Tensor]) -> bool:
    own = {k: v for k, v in model.state_dict().items() if k.startswith("head.")}
    theirs = {k: v for k, v in state.items() if k.startswith("head.")}
    return bool(theirs) and set(own) == set(theirs) and all(own[k].shape == theirs[k].shape for k in own)


def load_pretrained(model: ECGModel, ckpt: dict, *, source: str) -> dict[str, list[str]]:
    """Load a bundle or a foreign checkpoint into ``model`` (see :func:`create_model`)."""
    if is_bundle(ckpt):
        state = ckpt["state_dict"]
        cfg = PretrainedCfg.from_dict(ckpt["pretrained_cfg"])
        cfg = cfg.replace(source=source if cfg.source == "random init" else cfg.source)
    else:
        convert = getattr(type(model), "convert_checkpoint", None)
        if convert is None:
            raise ContractError(f"{model.model_name} has no converter for foreign checkpoints; "
                                "pass an ecgscope bundle", source=source)
        state = convert(ckpt, source=source)
        cfg = model.pretrained_cfg.replace(source=source)
    head_ok = _head_matches(model, state)
    if not head_ok:
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
    report = load_state_checked(model, state, source=source, allow_missing=[] if head_ok else ["head"],
                                resizable=getattr(model, "resizable_buffers", ()))
    if head_ok:
        model.pretrained_cfg = cfg
    else:
        # the head is new: the checkpoint's label names and task no longer describe the outputs
        model.pretrained_cfg = cfg.replace(labels=model.pretrained_cfg.labels, task=None)
    return report
