"""Checkpoint converters, tested on files built with the published projects' exact names and shapes.

The key lists below are written from fairseq-signals' ``ECGTransformerModel`` /
``ECGTransformerClassificationModel`` and ST-MEM's ``ST_MEM_ViT`` / ``ST_MEM`` module trees, not
from ecgscope's modules, so a renamed or reshaped parameter on our side fails here.
"""

from __future__ import annotations

import pytest
import torch

from ecgscope.errors import ContractError
from ecgscope.models import create_model

# ---------------------------------------------------------------- fairseq-signals (ECG-FM)


def fairseq_ecgfm_state(conv_dim=256, n_conv=4, in_d=12, embed=768, depth=12, ffn=3072, conv_pos=128, groups=16,
                        legacy_weight_norm=True, pretraining_modules=False, num_labels=None, finetuned_prefix=False):
    """State dict of an ECG-FM encoder as fairseq-signals names it (random values)."""
    g = torch.Generator().manual_seed(0)
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(n_conv):
        shapes[f"feature_extractor.conv_layers.{i}.0.weight"] = (conv_dim, in_d if i == 0 else conv_dim, 2)
    shapes["feature_extractor.conv_layers.0.2.weight"] = (conv_dim,)  # GroupNorm of the first block
    shapes["feature_extractor.conv_layers.0.2.bias"] = (conv_dim,)
    shapes["layer_norm.weight"] = shapes["layer_norm.bias"] = (conv_dim,)
    shapes["post_extract_proj.weight"], shapes["post_extract_proj.bias"] = (embed, conv_dim), (embed,)
    shapes["conv_pos.pos_conv.0.bias"] = (embed,)
    if legacy_weight_norm:
        shapes["conv_pos.pos_conv.0.weight_g"] = (1, 1, conv_pos)
        shapes["conv_pos.pos_conv.0.weight_v"] = (embed, embed // groups, conv_pos)
    else:
        shapes["conv_pos.pos_conv.0.parametrizations.weight.original0"] = (1, 1, conv_pos)
        shapes["conv_pos.pos_conv.0.parametrizations.weight.original1"] = (embed, embed // groups, conv_pos)
    shapes["encoder.layer_norm.weight"] = shapes["encoder.layer_norm.bias"] = (embed,)
    for i in range(depth):
        p = f"encoder.layers.{i}."
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            shapes[p + f"self_attn.{proj}.weight"], shapes[p + f"self_attn.{proj}.bias"] = (embed, embed), (embed,)
        shapes[p + "self_attn_layer_norm.weight"] = shapes[p + "self_attn_layer_norm.bias"] = (embed,)
        shapes[p + "fc1.weight"], shapes[p + "fc1.bias"] = (ffn, embed), (ffn,)
        shapes[p + "fc2.weight"], shapes[p + "fc2.bias"] = (embed, ffn), (embed,)
        shapes[p + "final_layer_norm.weight"] = shapes[p + "final_layer_norm.bias"] = (embed,)
    if pretraining_modules:
        shapes["mask_emb"] = (embed,)
        shapes["quantizer.vars"] = (1, 640, 128)
        shapes["quantizer.weight_proj.weight"], shapes["quantizer.weight_proj.bias"] = (640, conv_dim), (640,)
        shapes["project_q.weight"], shapes["project_q.bias"] = (256, 256), (256,)
        shapes["final_proj.weight"], shapes["final_proj.bias"] = (256, embed), (256,)
    state = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    if finetuned_prefix:
        state = {f"encoder.{k}": v for k, v in state.items()}
    if num_labels is not None:
        state["proj.weight"] = torch.randn(num_labels, embed, generator=g)
        state["proj.bias"] = torch.randn(num_labels, generator=g)
    return state


def save_fairseq(path, state):
    """As fairseq-signals' checkpoint_utils.save_state writes it (cfg as a plain container)."""
    torch.save({"cfg": {"model": {"_name": "ecg_transformer_classifier", "encoder_embed_dim": 768},
                        "task": {"_name": "ecg_classification", "normalize": False}},
                "model": state, "optimizer_history": [{"criterion_name": "BinaryCrossEntropyCriterion"}],
                "extra_state": {"epoch": 1}, "last_optimizer_state": None}, path)
    return path


def ecgscope_name(key: str) -> str:
    """The documented mapping, written out independently of the converter."""
    if key.startswith("encoder."):
        key = key[len("encoder."):]
    elif key.startswith("proj."):
        key = "head.fc." + key[len("proj."):]
    key = key.replace(".weight_g", ".parametrizations.weight.original0")
    return key.replace(".weight_v", ".parametrizations.weight.original1")


TINY = dict(conv_dim=64, embed=128, depth=4, ffn=256, conv_pos=32, groups=16)


def test_ecgfm_full_size_finetuned_checkpoint_lands_every_tensor(tmp_path):
    src = fairseq_ecgfm_state(num_labels=17, finetuned_prefix=True)
    path = save_fairseq(tmp_path / "ecgfm_finetuned.pt", src)
    model = create_model("ecgfm", pretrained=path)
    own = model.state_dict()
    assert len(own) == len(src)
    for key, value in src.items():
        assert torch.equal(own[ecgscope_name(key)], value), key
    # legacy weight norm -> parametrization: the effective kernel is g * v / ||v|| over dims 0, 1
    g = src["encoder.conv_pos.pos_conv.0.weight_g"]
    v = src["encoder.conv_pos.pos_conv.0.weight_v"]
    expected = g * v / v.norm(dim=(0, 1), keepdim=True)
    torch.testing.assert_close(model.conv_pos.pos_conv[0].weight, expected)
    assert model.pretrained_cfg.source == str(path)
    assert model.pretrained_cfg.input_contract.fs == 500 and model.pretrained_cfg.input_contract.window_samples == 2500
    assert model.pretrained_cfg.input_contract.resample_method == "linear"


def test_ecgfm_pretrained_layout_drops_only_pretraining_modules(tmp_path):
    src = fairseq_ecgfm_state(**TINY, legacy_weight_norm=False, pretraining_modules=True)
    path = save_fairseq(tmp_path / "pretrained.pt", src)
    model = create_model("ecgfm_tiny", pretrained=path, num_classes=17)
    own = model.state_dict()
    dropped = {"mask_emb", "quantizer", "project_q", "final_proj"}
    for key, value in src.items():
        if key.split(".")[0] in dropped:
            continue
        assert torch.equal(own[key], value), key
    # the classifier is new (not in a pretrained encoder), everything else came from the file
    assert {k for k in own if k not in src} == {"head.fc.weight", "head.fc.bias"}


def test_ecgfm_head_kept_when_classes_match_and_reset_when_not(tmp_path):
    src = fairseq_ecgfm_state(**TINY, num_labels=5, finetuned_prefix=True)
    path = save_fairseq(tmp_path / "five.pt", src)
    same = create_model("ecgfm_tiny", pretrained=path, num_classes=5)
    assert torch.equal(same.head.fc.weight, src["proj.weight"])
    other = create_model("ecgfm_tiny", pretrained=path, num_classes=17)
    assert other.head.fc.weight.shape == (17, 128)
    assert torch.equal(other.encoder.layers[0].fc1.weight, src["encoder.encoder.layers.0.fc1.weight"])


def test_ecgfm_old_wav2vec2_positional_conv_location(tmp_path):
    src = fairseq_ecgfm_state(**TINY)
    src = {k.replace("conv_pos.pos_conv.", "encoder.pos_conv."): v for k, v in src.items()}
    model = create_model("ecgfm_tiny", pretrained=save_fairseq(tmp_path / "old.pt", src))
    assert torch.equal(model.conv_pos.pos_conv[0].parametrizations.weight.original1,
                       src["encoder.pos_conv.0.weight_v"])


@pytest.mark.parametrize("damage", ["missing", "unexpected", "shape"])
def test_ecgfm_mismatch_is_an_error_not_a_random_init(tmp_path, damage):
    src = fairseq_ecgfm_state(**TINY)
    if damage == "missing":
        del src["encoder.layers.2.fc1.weight"]
    elif damage == "unexpected":
        src["encoder.layers.2.adapter.weight"] = torch.zeros(3)
    else:
        src["post_extract_proj.weight"] = torch.zeros(128, 32)
    path = save_fairseq(tmp_path / f"{damage}.pt", src)
    with pytest.raises(ContractError, match="does not match the model") as err:
        create_model("ecgfm_tiny", pretrained=path)
    assert {"missing": "encoder.layers.2.fc1.weight", "unexpected": "adapter",
            "shape": "post_extract_proj.weight"}[damage] in str(err.value)


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(Exception, match="not a readable PyTorch checkpoint"):
        create_model("ecgfm_tiny", pretrained=bad)
    torch.save({"model": {"something.else": torch.zeros(1)}}, tmp_path / "other.pt")
    with pytest.raises(ContractError, match="no transformer layers"):
        create_model("ecgfm_tiny", pretrained=tmp_path / "other.pt")
    with pytest.raises(ContractError, match="no converter"):
        create_model("ssm_tiny", pretrained=tmp_path / "other.pt")


# ---------------------------------------------------------------- ST-MEM


def stmem_vit_state(width=768, depth=12, mlp=3072, heads=12, dim_head=64, patch=75, n_patches=30, leads=12,
                    num_classes=None):
    g = torch.Generator().manual_seed(1)
    inner = heads * dim_head
    shapes: dict[str, tuple[int, ...]] = {
        "to_patch_embedding.1.weight": (patch,), "to_patch_embedding.1.bias": (patch,),
        "to_patch_embedding.2.weight": (width, patch), "to_patch_embedding.2.bias": (width,),
        "to_patch_embedding.3.weight": (width,), "to_patch_embedding.3.bias": (width,),
        "pos_embedding": (1, n_patches + 2, width), "sep_embedding": (width,),
    }
    for i in range(leads):
        shapes[f"lead_embeddings.{i}"] = (width,)
    for i in range(depth):
        p = f"block{i}."
        shapes[p + "attn.norm.weight"] = shapes[p + "attn.norm.bias"] = (width,)
        shapes[p + "attn.fn.to_qkv.weight"], shapes[p + "attn.fn.to_qkv.bias"] = (3 * inner, width), (3 * inner,)
        shapes[p + "attn.fn.to_out.0.weight"], shapes[p + "attn.fn.to_out.0.bias"] = (width, inner), (width,)
        shapes[p + "ff.norm.weight"] = shapes[p + "ff.norm.bias"] = (width,)
        shapes[p + "ff.fn.net.0.weight"], shapes[p + "ff.fn.net.0.bias"] = (mlp, width), (mlp,)
        shapes[p + "ff.fn.net.3.weight"], shapes[p + "ff.fn.net.3.bias"] = (width, mlp), (width,)
    shapes["norm.weight"] = shapes["norm.bias"] = (width,)
    if num_classes:
        shapes["head.weight"], shapes["head.bias"] = (num_classes, width), (num_classes,)
    return {k: torch.randn(s, generator=g) for k, s in shapes.items()}


def test_stmem_full_size_encoder_checkpoint(tmp_path):
    src = stmem_vit_state(num_classes=17)
    torch.save({"model": src, "epoch": 799, "config": {"model_name": "st_mem_vit_base"}}, tmp_path / "stmem.pth")
    model = create_model("stmem", pretrained=tmp_path / "stmem.pth")
    own = model.state_dict()
    assert len(own) == len(src)
    for key, value in src.items():
        name = "head.fc." + key[5:] if key.startswith("head.") else key
        assert torch.equal(own[name], value), key
    c = model.pretrained_cfg.input_contract
    assert (c.fs, c.window_samples, c.bandpass, c.normalization) == (250.0, 2250, (0.67, 40.0), "global")
    # reduced-lead input through the lead embeddings, with the published weights
    lead_ii = create_model("stmem", pretrained=tmp_path / "stmem.pth", input_leads=("II",))
    assert lead_ii.in_chans == 1 and torch.equal(lead_ii.lead_embeddings[1], src["lead_embeddings.1"])
    with torch.no_grad():
        assert lead_ii.eval()(torch.randn(1, 1, 2250)).shape == (1, 17)


def test_stmem_masked_autoencoder_checkpoint_keeps_the_encoder(tmp_path):
    kw = dict(width=96, depth=4, mlp=192, heads=3, dim_head=32)
    enc = stmem_vit_state(**kw)
    g = torch.Generator().manual_seed(2)
    full = {f"encoder.{k}": v for k, v in enc.items()}
    full.update({k: v.clone() for k, v in enc.items() if k.startswith("to_patch_embedding.")})  # the MAE's alias
    full.update({"to_decoder_embedding.weight": torch.randn(256, 96, generator=g), "mask_embedding": torch.zeros(1, 1, 256),
                 "decoder_pos_embed": torch.zeros(1, 32, 256), "decoder_blocks.0.attn.norm.weight": torch.ones(256),
                 "decoder_norm.weight": torch.ones(256), "decoder_head.weight": torch.zeros(75, 256)})
    torch.save({"model": full}, tmp_path / "mae.pth")
    model = create_model("stmem_tiny", pretrained=tmp_path / "mae.pth", num_classes=4)
    own = model.state_dict()
    for key, value in enc.items():
        assert torch.equal(own[key], value), key
    full["encoder.block9.attn.norm.weight"] = torch.ones(96)  # a layer the model does not have
    torch.save({"model": full}, tmp_path / "deeper.pth")
    with pytest.raises(ContractError, match="block9"):
        create_model("stmem_tiny", pretrained=tmp_path / "deeper.pth")


def test_ecgfm_layer_is_the_standard_post_norm_transformer_layer():
    """fairseq's post-norm layer == torch's TransformerEncoderLayer(norm_first=False, gelu) with the same weights."""
    torch.manual_seed(0)
    model = create_model("ecgfm_tiny").eval()
    ours = model.encoder.layers[0]
    ref = torch.nn.TransformerEncoderLayer(128, 4, dim_feedforward=256, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=False).eval()
    with torch.no_grad():
        a = ours.self_attn
        ref.self_attn.in_proj_weight.copy_(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]))
        ref.self_attn.in_proj_bias.copy_(torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]))
        ref.self_attn.out_proj.load_state_dict(a.out_proj.state_dict())
        ref.linear1.load_state_dict(ours.fc1.state_dict())
        ref.linear2.load_state_dict(ours.fc2.state_dict())
        ref.norm1.load_state_dict(ours.self_attn_layer_norm.state_dict())
        ref.norm2.load_state_dict(ours.final_layer_norm.state_dict())
        x = torch.randn(2, 9, 128)
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)
    # 2500 samples -> 156 tokens, as ECG-FM: four kernel-2 stride-2 convolutions
    assert model.num_tokens(2500) == 156
    with torch.no_grad():
        assert model.forward_features(torch.zeros(1, 12, 2500)).shape == (1, 156, 128)
