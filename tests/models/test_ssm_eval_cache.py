"""The SSM's eval-mode long convolution (cached operator / kernel) equals the training-mode FFT path."""

from __future__ import annotations

import torch

from ecgscope.models import create_model


def _train_path(model, x):
    model.eval()
    for mod in model.modules():
        if hasattr(mod, "kernel"):  # only the S4D layers take the FFT path; nothing else is stochastic here
            mod.training = True
    with torch.no_grad():
        out = model(x)
    model.eval()
    return out


def test_eval_cache_matches_fft_path_short_and_long():
    torch.manual_seed(0)
    model = create_model("ssm_tiny", num_classes=5)
    for length in (500, 2400):  # 125 tokens (operator) and 600 tokens (cached kernel + FFT)
        x = torch.randn(3, 12, length)
        ref = _train_path(model, x)
        with torch.inference_mode():
            got = model(x)
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_eval_cache_follows_new_weights():
    torch.manual_seed(1)
    a, b = create_model("ssm_tiny", num_classes=5), create_model("ssm_tiny", num_classes=5)
    x = torch.randn(2, 12, 500)
    a.eval()
    with torch.inference_mode():
        before = a(x)
    a.load_state_dict(b.state_dict())
    with torch.inference_mode():
        after = a(x)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, _train_path(b, x), atol=1e-5, rtol=1e-5)


def test_frozen_kernels_for_export_match_and_refuse_other_lengths():
    import pytest

    torch.manual_seed(2)
    model = create_model("ssm_tiny", num_classes=5).eval()
    x = torch.randn(2, 12, 500)
    with torch.inference_mode():
        ref = model(x)
    model.freeze_for_export(500)
    assert all(hasattr(b.s4d, "frozen_w") for b in model.blocks)
    assert not any("frozen" in k for k in model.state_dict())  # never saved into a bundle
    with torch.inference_mode():
        torch.testing.assert_close(model(x), ref, atol=1e-5, rtol=1e-5)
        with pytest.raises(ValueError, match="frozen for"):
            model(torch.randn(1, 12, 1000))
    # training ignores the frozen kernels: gradients still reach the kernel parameters
    model.train()
    model(x).sum().backward()
    assert model.blocks[0].s4d.kernel.log_dt.grad is not None
