"""Convert fairseq-signals checkpoints (ECG-FM) to :class:`~ecgscope.models.backbones.ecgfm.ECGFM` names.

fairseq-signals saves ``{"cfg": {...}, "model": state_dict, ...}``.  Two layouts exist:

* **pretrained** encoders (wav2vec 2.0 / CMSC): ``feature_extractor.*``, ``layer_norm.*``,
  ``post_extract_proj.*``, ``conv_pos.pos_conv.0.*``, ``encoder.layers.N.*``, ``encoder.layer_norm.*``
  plus pretraining-only modules (``mask_emb``, ``quantizer.*``, ``project_q.*``, ``final_proj.*``...)
  that a classifier does not use;
* **fine-tuned** classifiers: the same under an ``encoder.`` prefix
  (``encoder.encoder.layers.N.self_attn.q_proj.weight``) and the classifier as ``proj.*``.

The positional convolution's weight norm comes in the legacy form (``weight_g`` / ``weight_v``)
or the parametrization form (``parametrizations.weight.original0`` / ``original1``); both map to
the parametrization form used here.  Older wav2vec 2.0 files keep it inside the transformer
(``encoder.pos_conv.0.*``), which maps too.
"""

from __future__ import annotations

import torch

from ecgscope.errors import ContractError

#: modules only the self-supervised objective uses: dropped on purpose, never an error
PRETRAINING_ONLY = ("mask_emb", "quantizer", "input_quantizer", "project_q", "project_inp", "final_proj",
                    "target_glu")


def _weight_norm_name(key: str) -> str:
    if key.endswith(".weight_g"):
        return key[: -len("weight_g")] + "parametrizations.weight.original0"
    if key.endswith(".weight_v"):
        return key[: -len("weight_v")] + "parametrizations.weight.original1"
    return key


def convert_fairseq_signals(ckpt: dict, *, source: str = "checkpoint",
                            dropped: list[str] | None = None) -> dict[str, torch.Tensor]:
    """State dict of an ECG-FM fairseq-signals checkpoint under ecgscope's ECGFM names.

    Keys of pretraining-only modules are removed (and appended to ``dropped`` when given); every
    other key is renamed and returned, so an unknown key surfaces as "unexpected" when loading.
    """
    state = ckpt.get("model")
    if not isinstance(state, dict) or not state:
        raise ContractError("not a fairseq-signals checkpoint: no 'model' state dict", source=source)
    finetuned = any(k.startswith("encoder.feature_extractor.") for k in state)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = key
        if finetuned:
            if name.startswith("encoder."):
                name = name[len("encoder."):]
            elif name.startswith("proj."):
                name = "head.fc." + name[len("proj."):]
        if name.split(".", 1)[0] in PRETRAINING_ONLY:
            if dropped is not None:
                dropped.append(key)
            continue
        if name.startswith("encoder.pos_conv."):
            name = "conv_pos.pos_conv." + name[len("encoder.pos_conv."):]
        out[_weight_norm_name(name)] = value
    if not any(k.startswith("encoder.layers.") for k in out):
        raise ContractError("not an ECG-FM encoder: no transformer layers (encoder.layers.N.*) in the checkpoint",
                            source=source)
    return out
