"""Temporal RoPE with memory frames at explicit (negative) positions.

StoryMem places the M memory latent frames at temporal positions -M*S, ..., -2S, -S and keeps the
shot at 0..T-1. With S = 1 this is plain concatenation (RoPE only sees position differences), so we
return the stock module's result untouched. For S > 1 the temporal angles are computed from the
explicit positions: a precomputed table must never be indexed with negative numbers (that would
silently wrap around to the far end of the table).
"""

from __future__ import annotations

import torch
from diffusers.models.embeddings import get_1d_rotary_pos_embed
from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed


class MemoryRotaryPosEmbed(WanRotaryPosEmbed):
    """Drop-in for ``transformer.rope``; the module keeps the name ``rope`` so context-parallel
    plans that look the module up by name still find it."""

    def __init__(self, attention_head_dim: int, patch_size, max_seq_len: int, theta: float = 10000.0,
                 stride: int = 1) -> None:
        super().__init__(attention_head_dim, patch_size, max_seq_len, theta)
        if stride < 1:
            raise ValueError(f"memory_rope_stride must be >= 1, got {stride}")
        self.theta = theta
        self.stride = int(stride)
        # Set by the pipeline before each shot: how many leading latent frames are memory.
        self.num_memory_frames = 0

    @classmethod
    def replacing(cls, stock: WanRotaryPosEmbed, stride: int) -> MemoryRotaryPosEmbed:
        rope = cls(stock.attention_head_dim, stock.patch_size, stock.max_seq_len, stride=stride)
        return rope.to(stock.freqs_cos.device)

    def temporal_positions(self, num_frames: int) -> torch.Tensor:
        m = min(self.num_memory_frames, num_frames)
        memory = [-(m - j) * self.stride for j in range(m)]
        shot = list(range(num_frames - m))
        return torch.tensor(memory + shot, dtype=torch.float64)

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.stride == 1 or self.num_memory_frames == 0:
            return super().forward(hidden_states)
        _, _, num_frames, height, width = hidden_states.shape
        p_t, p_h, p_w = self.patch_size
        ppf, pph, ppw = num_frames // p_t, height // p_h, width // p_w
        split_sizes = [self.t_dim, self.h_dim, self.w_dim]
        cos_t, sin_t = get_1d_rotary_pos_embed(
            self.t_dim,
            self.temporal_positions(ppf),
            self.theta,
            use_real=True,
            repeat_interleave_real=True,
            freqs_dtype=torch.float64,
        )
        cos_t = cos_t.to(self.freqs_cos.device)
        sin_t = sin_t.to(self.freqs_sin.device)
        cos_parts = self.freqs_cos.split(split_sizes, dim=1)
        sin_parts = self.freqs_sin.split(split_sizes, dim=1)

        def grid(t, h, w):
            t = t.view(ppf, 1, 1, -1).expand(ppf, pph, ppw, -1)
            h = h[:pph].view(1, pph, 1, -1).expand(ppf, pph, ppw, -1)
            w = w[:ppw].view(1, 1, ppw, -1).expand(ppf, pph, ppw, -1)
            return torch.cat([t, h, w], dim=-1).reshape(1, ppf * pph * ppw, 1, -1)

        return grid(cos_t, cos_parts[1], cos_parts[2]), grid(sin_t, sin_parts[1], sin_parts[2])


def install_memory_rope(transformer, stride: int) -> MemoryRotaryPosEmbed:
    """Swap the transformer's rope for the memory-aware one (idempotent)."""
    rope = transformer.rope
    if isinstance(rope, MemoryRotaryPosEmbed):
        rope.stride = int(stride)
        return rope
    transformer.rope = MemoryRotaryPosEmbed.replacing(rope, stride)
    return transformer.rope


def set_memory_frames(transformers, num_memory_frames: int) -> None:
    for transformer in transformers:
        if transformer is not None and isinstance(transformer.rope, MemoryRotaryPosEmbed):
            transformer.rope.num_memory_frames = num_memory_frames
