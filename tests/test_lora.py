from __future__ import annotations

import copy
import math
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("peft")

import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from storymem_engine.lora import (  # noqa: E402
    LoraError,
    load_storymem_lora,
    load_storymem_lora_pair,
)

NUM_LAYERS = 2
DIM = 24  # num_attention_heads * attention_head_dim
FFN_DIM = 32
# Wan module -> (diffusers module, in_features, out_features)
_ATTN = tuple(zip("qkvo", ("to_q", "to_k", "to_v", "to_out.0"), strict=True))
TARGETS = {
    **{f"self_attn.{p}": (f"attn1.{d}", DIM, DIM) for p, d in _ATTN},
    **{f"cross_attn.{p}": (f"attn2.{d}", DIM, DIM) for p, d in _ATTN},
    "ffn.0": ("ffn.net.0.proj", DIM, FFN_DIM),
    "ffn.2": ("ffn.net.2", FFN_DIM, DIM),
}


def tiny_transformer(seed: int = 0):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=FFN_DIM,
        num_layers=NUM_LAYERS,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    ).eval()


def storymem_lora(rank: int, seed: int = 1, num_layers: int = NUM_LAYERS) -> dict[str, torch.Tensor]:
    """A synthetic LoRA in StoryMem's format: peft keys on the original Wan module names."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for block in range(num_layers):
        for wan, (_, fan_in, fan_out) in TARGETS.items():
            key = f"base_model.model.blocks.{block}.{wan}"
            # Small values: with scale 11.3 and r=128 the delta would otherwise swamp the base weights.
            sd[f"{key}.lora_A.weight"] = torch.randn(rank, fan_in, generator=gen) * 0.05
            sd[f"{key}.lora_B.weight"] = torch.randn(fan_out, rank, generator=gen) * 0.05
    return sd


def expected_modules(num_layers: int = NUM_LAYERS) -> list[str]:
    return [f"blocks.{b}.{d}" for b in range(num_layers) for d in sorted(d for (d, _, _) in TARGETS.values())]


def delta(sd: dict[str, torch.Tensor], block: int, wan: str, scale: float) -> torch.Tensor:
    key = f"base_model.model.blocks.{block}.{wan}"
    return scale * sd[f"{key}.lora_B.weight"] @ sd[f"{key}.lora_A.weight"]


def merged_copy(base, sd: dict[str, torch.Tensor], scale: float):
    merged = copy.deepcopy(base)
    with torch.no_grad():
        for block in range(NUM_LAYERS):
            for wan, (diffusers_name, _, _) in TARGETS.items():
                layer = merged.get_submodule(f"blocks.{block}.{diffusers_name}")
                layer.weight += delta(sd, block, wan, scale)
    return merged


def forward(model) -> torch.Tensor:
    gen = torch.Generator().manual_seed(7)
    hidden = torch.randn(1, 36, 2, 4, 4, generator=gen)
    text = torch.randn(1, 5, 32, generator=gen)
    with torch.no_grad():
        return model(hidden, torch.tensor([500]), text, return_dict=False)[0]


def check_layers(model, sd: dict[str, torch.Tensor], scale: float) -> None:
    """Every adapted Linear computes F.linear(x, W + scale * B @ A, bias)."""
    x = torch.randn(3, FFN_DIM)
    for block in range(NUM_LAYERS):
        for wan, (diffusers_name, fan_in, _) in TARGETS.items():
            layer = model.get_submodule(f"blocks.{block}.{diffusers_name}")
            assert layer.scaling["storymem"] == pytest.approx(scale, rel=1e-9)
            base = layer.base_layer
            want = F.linear(x[:, :fan_in], base.weight + delta(sd, block, wan, scale), base.bias)
            with torch.no_grad():
                got = layer(x[:, :fan_in])
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_rslora_scale_on_every_layer_and_full_forward() -> None:
    base = tiny_transformer()
    model = copy.deepcopy(base)
    sd = storymem_lora(rank=16)
    names = load_storymem_lora(model, sd)
    assert names == expected_modules()
    scale = 16 / math.sqrt(16)  # rsLoRA: alpha / sqrt(r) = 4, not peft's alpha / r = 1
    check_layers(model, sd, scale)

    out = forward(model)
    torch.testing.assert_close(out, forward(merged_copy(base, sd, scale)), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(out, forward(base), atol=1e-4)
    # With the wrong (plain alpha / r) scale the output would differ: the check has teeth.
    assert not torch.allclose(out, forward(merged_copy(base, sd, 1.0)), atol=1e-4)


def test_storymem_rank_128_gives_scale_11_31() -> None:
    model = tiny_transformer()
    sd = storymem_lora(rank=128)
    load_storymem_lora(model, sd)
    check_layers(model, sd, 128 / math.sqrt(128))
    assert model.blocks[0].attn1.to_q.scaling["storymem"] == pytest.approx(11.3137, abs=1e-4)


def test_alpha_entries_and_strength() -> None:
    sd = storymem_lora(rank=16)
    for key in [k for k in sd if k.endswith("lora_A.weight")]:
        sd[key.replace("lora_A.weight", "alpha")] = torch.tensor(8.0)
    model = tiny_transformer()
    load_storymem_lora(model, sd, scale=0.5)
    plain = {k: v for k, v in sd.items() if not k.endswith("alpha")}
    check_layers(model, plain, 0.5 * 8 / math.sqrt(16))


@pytest.mark.parametrize("alpha", [1e30, 0.0, -4.0])
def test_an_absurd_alpha_is_refused_before_it_makes_every_frame_nan(alpha: float) -> None:
    """An alpha of 1e30 (a property test's draw) loaded, and the expert's output was all NaN."""
    sd = storymem_lora(rank=16)
    key = next(k for k in sd if k.endswith("lora_A.weight"))
    sd[key.replace("lora_A.weight", "alpha")] = torch.tensor(alpha)
    model = tiny_transformer()
    with pytest.raises(LoraError, match="alpha must be a positive number" if alpha <= 0 else
                       "could change a weight by up to .*the file is damaged"):
        load_storymem_lora(model, sd)
    assert not getattr(model, "peft_config", None)


def test_missing_block_is_an_error_naming_the_key() -> None:
    model = tiny_transformer()
    sd = storymem_lora(rank=8)
    bad = storymem_lora(rank=8, num_layers=8)
    for part in ("lora_A", "lora_B"):
        key = f"base_model.model.blocks.7.self_attn.q.{part}.weight"
        sd[key] = bad[key]
    with pytest.raises(LoraError, match=r"blocks\.7\.self_attn\.q"):
        load_storymem_lora(model, sd)
    # Nothing half-loaded stays behind.
    assert not getattr(model, "peft_config", {})
    assert type(model.blocks[0].attn1.to_q) is torch.nn.Linear


@pytest.mark.parametrize(
    ("key", "shape"),
    [
        ("base_model.model.blocks.0.self_attn.norm_q.lora_A.weight", None),  # not a converter target
        ("base_model.model.head.head.lora_A.weight", None),  # outside the blocks
        ("base_model.model.blocks.0.self_attn.q.lora_magnitude_vector", (DIM,)),  # DoRA: unsupported
    ],
)
def test_unmappable_keys_are_errors(key: str, shape: tuple[int, ...] | None) -> None:
    sd = storymem_lora(rank=8)
    if shape is None:
        sd[key] = torch.randn(8, DIM)
        sd[key.replace("lora_A", "lora_B")] = torch.randn(DIM, 8)
    else:
        sd[key] = torch.randn(*shape)
    with pytest.raises(LoraError, match=key.split(".", 2)[2].replace(".", r"\.")):
        load_storymem_lora(tiny_transformer(), sd)


def test_unpaired_and_wrong_shape_keys() -> None:
    sd = storymem_lora(rank=8)
    del sd["base_model.model.blocks.1.ffn.2.lora_B.weight"]
    with pytest.raises(LoraError, match=r"blocks\.1\.ffn\.2\.lora_A.*lora_B"):
        load_storymem_lora(tiny_transformer(), sd)

    sd = storymem_lora(rank=8)
    sd["base_model.model.blocks.1.ffn.0.lora_A.weight"] = torch.randn(8, 40)
    with pytest.raises(LoraError, match=r"blocks\.1\.ffn\.0.*ffn\.net\.0\.proj"):
        load_storymem_lora(tiny_transformer(), sd)


def test_pth_and_safetensors_files(tmp_path: Path) -> None:
    sd = storymem_lora(rank=16)
    pth = tmp_path / "lora.pth"
    torch.save(sd, pth)
    sft = tmp_path / "lora.safetensors"
    save_file(sd, str(sft))
    for path in (pth, sft):
        model = tiny_transformer()
        assert load_storymem_lora(model, path) == expected_modules()
        check_layers(model, sd, 4.0)

    other = tmp_path / "lora.bin"
    other.write_bytes(b"x")
    with pytest.raises(LoraError, match=r"\.bin"):
        load_storymem_lora(tiny_transformer(), other)
    with pytest.raises(LoraError, match="nope.pth"):
        load_storymem_lora(tiny_transformer(), tmp_path / "nope.pth")


def test_safetensors_metadata_alpha(tmp_path: Path) -> None:
    sd = storymem_lora(rank=16)
    sft = tmp_path / "lora.safetensors"
    save_file(sd, str(sft), metadata={"lora_alpha": "32"})
    model = tiny_transformer()
    load_storymem_lora(model, sft)
    check_layers(model, sd, 32 / math.sqrt(16))


def test_adapter_name_in_use() -> None:
    model = tiny_transformer()
    load_storymem_lora(model, storymem_lora(rank=8))
    with pytest.raises(LoraError, match="storymem"):
        load_storymem_lora(model, storymem_lora(rank=8))


def test_pair_loads_high_and_low_noise_experts(tmp_path: Path) -> None:
    high_sd = storymem_lora(rank=16, seed=11)
    low_sd = storymem_lora(rank=16, seed=12)
    torch.save(high_sd, tmp_path / "backbone_high_noise.pth")
    save_file(low_sd, str(tmp_path / "backbone_low_noise.safetensors"))
    transformer, transformer_2 = tiny_transformer(0), tiny_transformer(1)
    result = load_storymem_lora_pair(transformer, transformer_2, tmp_path)
    assert result.high_noise_file.name == "backbone_high_noise.pth"
    assert result.low_noise_file.name == "backbone_low_noise.safetensors"
    assert result.high_noise_modules == result.low_noise_modules == expected_modules()
    check_layers(transformer, high_sd, 4.0)
    check_layers(transformer_2, low_sd, 4.0)


def test_pair_reports_missing_files(tmp_path: Path) -> None:
    with pytest.raises(LoraError, match="backbone_high_noise.*backbone_low_noise"):
        load_storymem_lora_pair(tiny_transformer(), tiny_transformer(), tmp_path)
    torch.save(storymem_lora(rank=8), tmp_path / "backbone_high_noise.pth")
    transformer = tiny_transformer()
    with pytest.raises(LoraError, match="backbone_low_noise") as info:
        load_storymem_lora_pair(transformer, tiny_transformer(), tmp_path)
    assert "backbone_high_noise" not in str(info.value)
    assert not getattr(transformer, "peft_config", {})


def test_failed_low_noise_load_leaves_neither_expert_adapted(tmp_path: Path) -> None:
    torch.save(storymem_lora(rank=8), tmp_path / "backbone_high_noise.pth")
    torch.save(storymem_lora(rank=8, num_layers=3), tmp_path / "backbone_low_noise.pth")
    transformer = tiny_transformer()
    with pytest.raises(LoraError, match=r"blocks\.2\."):
        load_storymem_lora_pair(transformer, tiny_transformer(), tmp_path)
    assert not getattr(transformer, "peft_config", {})
    assert type(transformer.blocks[0].attn1.to_q) is torch.nn.Linear


@pytest.mark.filterwarnings("ignore:Already found a `peft_config`")
def test_a_second_adapter_keeps_the_first_active() -> None:
    base = tiny_transformer()
    model = copy.deepcopy(base)
    first = storymem_lora(rank=8, seed=3)
    second = storymem_lora(rank=16, seed=4)
    load_storymem_lora(model, first, adapter_name="lightning")
    load_storymem_lora(model, second)
    assert sorted(model.active_adapters()) == ["lightning", "storymem"]
    both = merged_copy(merged_copy(base, first, 8 / math.sqrt(8)), second, 4.0)
    torch.testing.assert_close(forward(model), forward(both), rtol=1e-4, atol=1e-5)
    assert not any(p.requires_grad for n, p in model.named_parameters() if "lora_" in n)


@pytest.mark.filterwarnings("ignore:Already found a `peft_config`")
def test_failed_second_adapter_restores_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    import storymem_engine.lora as lora_module

    model = tiny_transformer()
    load_storymem_lora(model, storymem_lora(rank=8, seed=3), adapter_name="lightning")
    before = forward(model)

    def fail_after_injection(*args, **kwargs):
        raise LoraError("simulated: weights did not load")

    # A failure after peft has already wrapped the layers must roll the new adapter back.
    monkeypatch.setattr(lora_module, "_verify_loaded", fail_after_injection)
    with pytest.raises(LoraError, match="simulated"):
        load_storymem_lora(model, storymem_lora(rank=16))
    assert list(model.peft_config) == ["lightning"]
    assert model.active_adapters() == ["lightning"]
    assert all("storymem" not in m.lora_A for m in model.modules() if hasattr(m, "lora_A"))
    torch.testing.assert_close(forward(model), before)
