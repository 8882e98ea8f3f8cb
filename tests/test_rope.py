"""Memory RoPE stride S: S = 1 is the stock result bit for bit; S > 1 moves only memory positions."""

import pytest
import torch
from diffusers import WanTransformer3DModel
from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

from storymem_engine.rope import MemoryRotaryPosEmbed, install_memory_rope, set_memory_frames

M, T, HH, WW = 3, 4, 4, 6


def _tiny(seed=0):
    torch.manual_seed(seed)
    return WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36,
                                 out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
                                 cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32).eval()


def _latents():
    return torch.randn(1, 36, M + T, HH, WW, generator=torch.Generator().manual_seed(1))


def test_stride_one_is_bit_for_bit_the_stock_rope_and_output():
    stock = _tiny()
    ours = _tiny()
    install_memory_rope(ours, stride=1)
    set_memory_frames([ours], M)
    x = _latents()
    assert isinstance(ours.rope, MemoryRotaryPosEmbed)
    assert "rope" in dict(ours.named_children())
    for a, b in zip(stock.rope(x), ours.rope(x), strict=True):
        assert torch.equal(a, b)
    text = torch.randn(1, 5, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out_stock = stock(x, torch.tensor([500]), text, return_dict=False)[0]
        out_ours = ours(x, torch.tensor([500]), text, return_dict=False)[0]
    assert torch.equal(out_stock, out_ours)


@pytest.mark.parametrize("stride", [2, 20])
def test_stride_moves_only_memory_positions(stride):
    rope = MemoryRotaryPosEmbed(12, (1, 2, 2), max_seq_len=32, stride=stride)
    rope.num_memory_frames = M
    cos, sin = rope(_latents())
    stock = WanRotaryPosEmbed(12, (1, 2, 2), max_seq_len=32)
    stock_cos, stock_sin = stock(torch.zeros(1, 36, T, HH, WW))
    per_frame = (HH // 2) * (WW // 2)
    # The shot keeps positions 0..T-1: identical to stock RoPE over the shot alone.
    torch.testing.assert_close(cos[:, M * per_frame:], stock_cos, rtol=0, atol=1e-6)
    torch.testing.assert_close(sin[:, M * per_frame:], stock_sin, rtol=0, atol=1e-6)
    # Memory frame j sits at -(M - j) * S: angles computed from that explicit negative position,
    # even where M * S is beyond the table (stride 20 -> -60 with a 32-entry table).
    t_dim = rope.t_dim
    inv = 1.0 / (10000 ** (torch.arange(0, t_dim, 2, dtype=torch.float64) / t_dim))
    for j in range(M):
        angle = (-(M - j) * stride) * inv
        expected_cos = angle.cos().repeat_interleave(2).float()
        expected_sin = angle.sin().repeat_interleave(2).float()
        token = j * per_frame
        torch.testing.assert_close(cos[0, token, 0, :t_dim], expected_cos, rtol=0, atol=1e-6)
        torch.testing.assert_close(sin[0, token, 0, :t_dim], expected_sin, rtol=0, atol=1e-6)
    # Spatial parts are untouched for memory and shot alike.
    full_stock_cos, _ = stock(_latents())
    torch.testing.assert_close(cos[..., t_dim:], full_stock_cos[..., t_dim:], rtol=0, atol=0)


def test_stride_changes_the_transformer_output_only_when_memory_is_present():
    a, b = _tiny(), _tiny()
    install_memory_rope(b, stride=4)
    text = torch.randn(1, 5, 32, generator=torch.Generator().manual_seed(3))
    x = _latents()
    with torch.no_grad():
        set_memory_frames([b], 0)
        assert torch.equal(a(x, torch.tensor([500]), text, return_dict=False)[0],
                           b(x, torch.tensor([500]), text, return_dict=False)[0])
        set_memory_frames([b], M)
        assert not torch.allclose(a(x, torch.tensor([500]), text, return_dict=False)[0],
                                  b(x, torch.tensor([500]), text, return_dict=False)[0])


def test_invalid_stride_is_rejected():
    with pytest.raises(ValueError, match="memory_rope_stride must be >= 1"):
        MemoryRotaryPosEmbed(12, (1, 2, 2), max_seq_len=32, stride=0)
