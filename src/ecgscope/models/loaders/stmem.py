"""Convert ST-MEM checkpoints (``{"model": state_dict}``) to :class:`~ecgscope.models.backbones.stmem.STMEM` names.

ST-MEM's encoder ``ST_MEM_ViT`` names its tensors ``to_patch_embedding.{1,2,3}.*``,
``pos_embedding``, ``sep_embedding``, ``lead_embeddings.N``, ``blockN.attn.norm.*``,
``blockN.attn.fn.to_qkv.*``, ``blockN.attn.fn.to_out.0.*``, ``blockN.ff.norm.*``,
``blockN.ff.fn.net.{0,3}.*``, ``norm.*`` and (fine-tuned) ``head.*``; ecgscope's ST-MEM module uses
the same names, with the classifier under ``head.fc``.

A full masked-autoencoder checkpoint (``ST_MEM``) holds the encoder under ``encoder.`` next to the
decoder; the decoder (and the alias ``to_patch_embedding.*`` of the encoder's own) is dropped.
"""

from __future__ import annotations

import torch

from ecgscope.errors import ContractError

#: parts of the masked-autoencoder that only pretraining uses
DECODER_ONLY = ("to_decoder_embedding", "mask_embedding", "decoder_pos_embed", "decoder_blocks", "decoder_norm",
                "decoder_head")


def convert_stmem(ckpt: dict, *, source: str = "checkpoint", dropped: list[str] | None = None) -> dict[str, torch.Tensor]:
    state = ckpt.get("model", ckpt.get("state_dict"))
    if not isinstance(state, dict) or not state:
        raise ContractError("not an ST-MEM checkpoint: no 'model' state dict", source=source)
    if any(k.startswith("module.") for k in state):  # saved from DistributedDataParallel
        state = {k.removeprefix("module."): v for k, v in state.items()}
    mae = any(k.startswith("encoder.block") for k in state)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = key
        if mae:
            if name.startswith("encoder."):
                name = name[len("encoder."):]
            else:  # decoder, and the MAE's alias of the encoder's patch embedding
                if dropped is not None:
                    dropped.append(key)
                if name.split(".", 1)[0] not in (*DECODER_ONLY, "to_patch_embedding"):
                    out[name] = value  # unknown: let the checked load report it
                continue
        if name.startswith("head."):
            name = "head.fc." + name[len("head."):]
        out[name] = value
    if "pos_embedding" not in out or not any(k.startswith("block0.") for k in out):
        raise ContractError("not an ST-MEM encoder: no pos_embedding / block0 in the checkpoint", source=source)
    return out
