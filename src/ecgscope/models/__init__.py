"""Foundation-model zoo: registry, backbones, heads, checkpoint bundles.

>>> from ecgscope.models import create_model, list_models
>>> "ssm" in list_models()
True
>>> model = create_model("ssm_tiny", num_classes=17)
>>> model.pretrained_cfg.input_contract.fs
100.0
"""

from ecgscope.models import backbones  # noqa: F401  (registers the models)
from ecgscope.models._base import ECGModel
from ecgscope.models._registry import (
    create_model,
    list_models,
    load_pretrained,
    model_description,
    model_family,
    register_model,
)
from ecgscope.models.checkpoint import bundle_dict, is_bundle, read_checkpoint, save_bundle
from ecgscope.models.heads import HEADS, create_head
from ecgscope.models.pretrained import PretrainedCfg


def load_model(path) -> ECGModel:
    """Rebuild the model saved in an ecgscope bundle (name, arguments, weights, contract, labels)."""
    ckpt = read_checkpoint(path)
    if not is_bundle(ckpt):
        from ecgscope.errors import ContractError

        raise ContractError("not an ecgscope model bundle; use create_model(name, pretrained=path)", source=str(path))
    return create_model(ckpt["model"], pretrained=ckpt)


__all__ = [
    "HEADS", "ECGModel", "PretrainedCfg", "bundle_dict", "create_head", "create_model", "is_bundle", "list_models",
    "load_model", "load_pretrained", "model_description", "model_family", "read_checkpoint", "register_model",
    "save_bundle",
]
