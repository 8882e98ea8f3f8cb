"""The memory condition (spec: "Memory conditioning"), checked against values computed here."""

import pytest
import torch

from storymem_engine.conditioning import build_memory_condition


@pytest.fixture(scope="module")
def vae():
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True]).eval()


H, W, F = 32, 48, 9  # T = (9 - 1) / 4 + 1 = 3 latent frames


def _images(n, seed, h=H, w=W):
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(3, h, w, generator=gen) * 2 - 1 for _ in range(n)]


def _normalised(vae, clip):
    z = vae.encode(clip).latent_dist.mode()
    mean = torch.tensor(vae.config.latents_mean).view(1, 16, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, 16, 1, 1, 1)
    return (z - mean) / std


@torch.no_grad()
def test_m2v_memory_frames_encoded_one_by_one_then_zero_shot_clip(vae):
    memory = _images(3, seed=1)
    y = build_memory_condition(vae, memory, F, H, W)
    assert y.shape == (1, 20, 3 + 3, H // 8, W // 8)
    for i, img in enumerate(memory):
        expected = _normalised(vae, img[None, :, None])[:, :, 0]
        torch.testing.assert_close(y[:, 4:, i], expected, rtol=1e-5, atol=1e-5)
    zeros = _normalised(vae, torch.zeros(1, 3, F, H, W))
    torch.testing.assert_close(y[:, 4:, 3:], zeros, rtol=1e-5, atol=1e-5)
    mask = y[:, :4]
    assert torch.all(mask[:, :, :3] == 1) and torch.all(mask[:, :, 3:] == 0)


@torch.no_grad()
def test_mi2v_carries_the_first_frame_exactly_as_stock_i2v(vae):
    from diffusers import WanImageToVideoPipeline

    memory = _images(2, seed=2)
    first = _images(1, seed=3)[0]
    y = build_memory_condition(vae, memory, F, H, W, first_frame=first)
    # Stock Wan I2V's own condition for the same first frame: our shot part must equal it.
    stock = WanImageToVideoPipeline(tokenizer=None, text_encoder=None, vae=vae, scheduler=None,
                                    transformer=None, transformer_2=None, boundary_ratio=0.9)
    _, stock_y = stock.prepare_latents(first[None], 1, 16, H, W, F, torch.float32, torch.device("cpu"))
    torch.testing.assert_close(y[:, :, 2:], stock_y, rtol=1e-5, atol=1e-5)
    # The reference's overwrite bug would leave an all-zero clip: make sure it is not that.
    zeros = _normalised(vae, torch.zeros(1, 3, F, H, W))
    assert not torch.allclose(y[:, 4:, 2], zeros[:, :, 0], atol=1e-3)
    mask = y[0, :4, :, 0, 0]
    assert mask.tolist() == [[1.0, 1.0, 1.0, 0.0, 0.0]] * 4


@torch.no_grad()
def test_mm2v_five_motion_frames_mark_two_latent_frames(vae):
    memory = _images(1, seed=4)
    motion = torch.stack(_images(5, seed=5))
    y = build_memory_condition(vae, memory, F, H, W, motion_frames=motion)
    clip = torch.zeros(1, 3, F, H, W)
    clip[0, :, :5] = motion.permute(1, 0, 2, 3)
    torch.testing.assert_close(y[:, 4:, 1:], _normalised(vae, clip), rtol=1e-5, atol=1e-5)
    assert y[0, :4, :, 0, 0].tolist() == [[1.0, 1.0, 1.0, 0.0]] * 4


@torch.no_grad()
def test_memory_images_of_another_size_are_resized_bicubic_without_crop_or_clamp(vae):
    """The official resize: bicubic to the shot size, and the overshoot past [-1, 1] goes to the VAE as is."""
    wide = _images(1, seed=6, h=20, w=80)[0]
    y = build_memory_condition(vae, [wide], F, H, W)
    resized = torch.nn.functional.interpolate(wide[None].cpu(), size=(H, W), mode="bicubic")
    assert resized.abs().max() > 1.0  # bicubic overshoots: a clamp would change these pixels
    torch.testing.assert_close(y[:, 4:, 0], _normalised(vae, resized[:, :, None])[:, :, 0], rtol=1e-5, atol=1e-5)
    clamped = _normalised(vae, resized.clamp(-1, 1)[:, :, None])[:, :, 0]
    assert (y[:, 4:, 0] - clamped).abs().max() > 1e-4


@torch.no_grad()
def test_mi2v_first_frame_of_another_size_is_resized_like_the_reference(vae):
    first = _images(1, seed=8, h=20, w=80)[0]
    y = build_memory_condition(vae, [], F, H, W, first_frame=first)
    clip = torch.zeros(1, 3, F, H, W)
    clip[0, :, 0] = torch.nn.functional.interpolate(first[None], size=(H, W), mode="bicubic")[0]
    torch.testing.assert_close(y[:, 4:], _normalised(vae, clip), rtol=1e-5, atol=1e-5)


def test_bad_arguments_are_clear(vae):
    with pytest.raises(ValueError, match="4n\\+1"):
        build_memory_condition(vae, [], 8, H, W)
    with pytest.raises(ValueError, match="not both"):
        build_memory_condition(vae, [], F, H, W, first_frame=torch.zeros(3, H, W),
                               motion_frames=torch.zeros(5, 3, H, W))
    with pytest.raises(ValueError, match=r"motion_frames must be \[5, 3, H, W\]"):
        build_memory_condition(vae, [], F, H, W, motion_frames=torch.zeros(4, 3, H, W))
