"""The draft profile's engine half: lightx2v's distilled LoRA as a second adapter, its 4-step Euler schedule, and
final renders untouched by it. Real diffusers/peft code on tiny random-weight models, no mocks."""

from __future__ import annotations

import copy
import math
import re
import shutil

import numpy as np
import pytest
import torch

from storymem_engine.engine import EngineError, EngineSettings, StoryMemEngine
from storymem_engine.lora import (
    DISTILL_ADAPTER,
    LoraError,
    distill_state,
    load_distill_lora,
    load_storymem_lora,
    set_distill_active,
    unload_distill,
)
from storymem_engine.models import (
    DISTILL_FILES,
    DISTILL_FOLDER,
    ModelFilesMissing,
    check_models,
    distill_download_command,
    distill_lora_missing,
    download_commands,
    missing_model_files,
)
from storymem_engine.request import DRAFT_GUIDANCE, DRAFT_SHIFT, DRAFT_STEPS, GenerationRequest
from storymem_engine.sampling import draft_scheduler
from storymem_engine.tiny import LORA_RANK, _storymem_lora_state, _transformer, distill_lora_state

DIM = 24
IMAGE_KEY = re.compile(r"\.(k_img|v_img|norm_k_img)\.|\.img_emb\.")


# ------------------------------------------------------------------------------------------------ models layout
def test_distill_files_are_optional_and_have_their_own_check_and_command(tiny_models, tmp_path):
    assert distill_lora_missing(tiny_models) == []  # the tiny folder carries tiny ones in the lightx2v layout
    for kind in ("t2v", "m2v"):
        for name in DISTILL_FILES[kind]:
            assert (tiny_models / DISTILL_FOLDER / name).is_file()
    empty = tmp_path / "models"
    # A final render's check never asks for them; the draft one does, with the repo's download command.
    assert not any(DISTILL_FOLDER in m for m in missing_model_files(empty))
    assert [m for m in missing_model_files(empty, draft=True) if DISTILL_FOLDER in m] == \
        [f"{DISTILL_FOLDER}/{n}" for n in (*DISTILL_FILES["t2v"], *DISTILL_FILES["m2v"])]
    assert distill_lora_missing(empty, ("m2v",)) == [f"{DISTILL_FOLDER}/{n}" for n in DISTILL_FILES["m2v"]]
    command = distill_download_command(empty, ("m2v",))
    assert command.startswith("hf download lightx2v/Wan2.2-Distill-Loras wan2.2_i2v_A14b_high_noise_lora_rank64")
    assert f'--local-dir "{empty / DISTILL_FOLDER}"' in command and "t2v" not in command
    assert command not in download_commands(empty) and distill_download_command(empty) in \
        download_commands(empty, draft=True)
    check_models(tiny_models, draft=True)  # all there
    with pytest.raises(ModelFilesMissing) as info:
        check_models(empty, first_shot="m2v", draft=True)
    assert f"{DISTILL_FOLDER}/{DISTILL_FILES['m2v'][0]}" in info.value.missing
    assert not any("t2v_A14b" in m for m in info.value.missing)  # an M2V first shot drafts no T2V


# ------------------------------------------------------------------------------------------------- schedule
def test_draft_schedule_is_lightx2v_formula():
    scheduler = draft_scheduler(DRAFT_SHIFT)
    scheduler.set_timesteps(DRAFT_STEPS)
    grid = np.linspace(1, 0, 1001)[:-1]
    grid = DRAFT_SHIFT * grid / (1 + (DRAFT_SHIFT - 1) * grid)
    want = np.array([grid[1000 - t] for t in (1000, 750, 500, 250)])
    np.testing.assert_allclose(scheduler.sigmas.numpy(), [*want, 0.0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(scheduler.timesteps.numpy(), want * 1000, rtol=0, atol=1e-3)
    # The pipelines' boundary (0.9 M2V, 0.875 T2V) gives steps 0-1 to the high-noise expert: boundary_step_index 2.
    for boundary in (0.9, 0.875):
        assert [bool(t >= boundary * 1000) for t in scheduler.timesteps] == [True, True, False, False]
    # Euler flow step with a last sigma_next of 0: x + (sigma_next - sigma) * v.
    x, v = torch.ones(3), torch.full((3,), 2.0)
    for i, t in enumerate(scheduler.timesteps):
        before = x.clone()
        x = scheduler.step(v, t, x, return_dict=False)[0]
        torch.testing.assert_close(x, before + (scheduler.sigmas[i + 1] - scheduler.sigmas[i]) * v)


# ------------------------------------------------------------------------------------------------ the loader
def _wan_to_diffusers(wan: str) -> str:
    """The test's own table of Wan -> diffusers names (independent of the loader's use of diffusers' renames)."""
    block = re.match(r"blocks\.(\d+)(?:\.(.+))?$", wan)
    if block:
        n, rest = block.groups()
        if rest is None:
            return f"blocks.{n}.scale_shift_table"  # diff_m: the block's modulation
        table = {"ffn.0": "ffn.net.0.proj", "ffn.2": "ffn.net.2", "norm3": "norm2"}
        for attn, ours in (("self_attn", "attn1"), ("cross_attn", "attn2")):
            projections = zip("qkvo", ("to_q", "to_k", "to_v", "to_out.0"), strict=True)
            table.update({f"{attn}.{p}": f"{ours}.{d}" for p, d in projections})
            table.update({f"{attn}.norm_q": f"{ours}.norm_q", f"{attn}.norm_k": f"{ours}.norm_k"})
        return f"blocks.{n}.{table[rest]}"
    return {"text_embedding.0": "condition_embedder.text_embedder.linear_1",
            "text_embedding.2": "condition_embedder.text_embedder.linear_2",
            "time_embedding.0": "condition_embedder.time_embedder.linear_1",
            "time_embedding.2": "condition_embedder.time_embedder.linear_2",
            "time_projection.1": "condition_embedder.time_proj", "head.head": "proj_out", "head": "scale_shift_table",
            "patch_embedding": "patch_embedding"}[wan]


def _merge(model, state: dict, strength: float = 1.0) -> None:
    """Add the file's deltas into the plain weights by hand: LoRA (alpha / r) * up @ down, diff, diff_b, diff_m."""
    with torch.no_grad():
        for key, value in state.items():
            if IMAGE_KEY.search(key) or key.endswith((".alpha", "lora_up.weight", "lora_B.weight")):
                continue
            wan, _, suffix = key.removeprefix("diffusion_model.").rpartition(".")
            if suffix == "weight":  # a down weight: the pair with its alpha
                wan, kind = wan.rsplit(".", 1)
                up = state[key.replace(kind, {"lora_down": "lora_up", "lora_A": "lora_B"}[kind])]
                scale = float(state[f"diffusion_model.{wan}.alpha"]) / value.shape[0]
                model.get_submodule(_wan_to_diffusers(wan)).weight += strength * scale * (up @ value)
            elif suffix == "diff_m":
                name = _wan_to_diffusers(wan)
                model.get_parameter(name).add_(strength * value.reshape(model.get_parameter(name).shape))
            else:
                module = model.get_submodule(_wan_to_diffusers(wan))
                target = module.weight if suffix == "diff" else module.bias
                target += strength * value.reshape(target.shape)


def _merge_storymem(model, state: dict) -> None:
    with torch.no_grad():
        for key, down in state.items():
            if key.endswith("lora_A.weight"):
                wan = key.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
                up = state[key.replace("lora_A", "lora_B")]
                # rsLoRA with alpha = r: alpha / sqrt(r)
                model.get_submodule(_wan_to_diffusers(wan)).weight += math.sqrt(down.shape[0]) * (up @ down)


def _forward(model, in_channels: int = 36) -> torch.Tensor:
    gen = torch.Generator().manual_seed(7)
    hidden = torch.randn(1, in_channels, 2, 4, 4, generator=gen)
    text = torch.randn(1, 5, 32, generator=gen)
    with torch.no_grad():
        return model(hidden, torch.tensor([937.5]), text, return_dict=False)[0]


def _base(in_channels: int = 36):
    torch.manual_seed(0)
    return _transformer(in_channels).eval()


@pytest.mark.parametrize("style", ["lightx2v", "kijai"])
@pytest.mark.parametrize("in_channels", [36, 16])
def test_every_key_of_each_published_layout_lands(style, in_channels):
    state = distill_lora_state(in_channels, seed=5, style=style)
    model = _base(in_channels)
    if in_channels == 36:
        load_storymem_lora(model, _storymem_lora_state(2, DIM, 32, 32, seed=1))
    loaded = load_distill_lora(model, state)
    pairs = {k.rsplit(".", 2)[0] for k in state if k.endswith(("lora_down.weight", "lora_A.weight"))}
    diffs = {k for k in state if k.endswith(("diff", "diff_b", "diff_m"))}
    image = {k for k in state if IMAGE_KEY.search(k) and not k.endswith(".alpha")}
    assert image if in_channels == 36 else not image  # the I2V files carry Wan2.1's image cross-attention
    assert set(loaded.skipped) == image
    assert sorted(loaded.lora_modules) == sorted(_wan_to_diffusers(p.removeprefix("diffusion_model."))
                                                 for p in pairs if not IMAGE_KEY.search(p + "."))
    assert {d.key for d in loaded.deltas} == diffs - image
    for pair in pairs - {p for p in pairs if IMAGE_KEY.search(p + ".")}:
        layer = model.get_submodule(_wan_to_diffusers(pair.removeprefix("diffusion_model.")))
        down = state[f"{pair}.lora_down.weight" if style == "lightx2v" else f"{pair}.lora_A.weight"]
        assert torch.equal(layer.lora_A[DISTILL_ADAPTER].weight, down)
        assert layer.scaling[DISTILL_ADAPTER] == pytest.approx(float(state[f"{pair}.alpha"]) / LORA_RANK)
    assert set(model.active_adapters()) == ({"storymem", DISTILL_ADAPTER} if in_channels == 36 else {DISTILL_ADAPTER})


def test_diffusers_own_converter_loses_these_keys():
    """Why the loader maps names itself: diffusers 0.42.1 drops the norm deltas and the modulation deltas, and
    fails on LoRA alphas outside the blocks."""
    from diffusers.loaders.lora_conversion_utils import _convert_non_diffusers_wan_lora_to_diffusers

    state = distill_lora_state(16, seed=5)
    with pytest.raises(ValueError, match="should be empty"):
        _convert_non_diffusers_wan_lora_to_diffusers(dict(state))
    blocks = {k: v for k, v in state.items() if ".blocks." in k}
    converted = _convert_non_diffusers_wan_lora_to_diffusers(dict(blocks))
    assert any("norm" in k for k in blocks) and not any("norm" in k for k in converted)
    assert any(k.endswith("diff_m") for k in blocks) and not any("scale_shift" in k for k in converted)


def test_both_adapters_compute_the_manually_merged_model():
    storymem, distill = _storymem_lora_state(2, DIM, 32, 32, seed=1), distill_lora_state(36, seed=5)
    base = _base()
    merged = copy.deepcopy(base)
    _merge_storymem(merged, storymem)
    _merge(merged, distill)
    model = copy.deepcopy(base)
    load_storymem_lora(model, storymem)
    load_distill_lora(model, distill)
    want = _forward(merged)
    torch.testing.assert_close(_forward(model), want, rtol=1e-5, atol=1e-5)
    assert (want - _forward(base)).abs().max() > 1e-3  # the deltas matter at this size

    # Strength scales every part alike.
    half = copy.deepcopy(base)
    _merge(half, distill, strength=0.5)
    model = copy.deepcopy(base)
    load_distill_lora(model, distill, strength=0.5)
    torch.testing.assert_close(_forward(model), _forward(half), rtol=1e-5, atol=1e-5)


def test_distill_off_is_bit_identical_and_switches_back_on():
    storymem, distill = _storymem_lora_state(2, DIM, 32, 32, seed=1), distill_lora_state(36, seed=5)
    only_storymem = _base()
    load_storymem_lora(only_storymem, storymem)
    model = _base()
    load_storymem_lora(model, storymem)
    load_distill_lora(model, distill)
    on = _forward(model)
    set_distill_active(model, False)
    assert torch.equal(_forward(model), _forward(only_storymem))
    assert model.active_adapters() == ["storymem"]
    set_distill_active(model, True)
    assert torch.equal(_forward(model), on)
    with pytest.raises(LoraError, match="already has an adapter named 'distill'"):
        load_distill_lora(model, distill)
    unload_distill(model)  # what the engine does when the pair's second file fails: StoryMem stays, as it was
    assert model.active_adapters() == ["storymem"] and torch.equal(_forward(model), _forward(only_storymem))
    # Without StoryMem (a T2V expert) off bypasses peft's layers: the plain model's output, bit for bit.
    plain, t2v = _base(16), _base(16)
    load_distill_lora(t2v, distill_lora_state(16, seed=6))
    set_distill_active(t2v, False)
    assert torch.equal(_forward(t2v, 16), _forward(plain, 16))
    unload_distill(t2v)
    assert distill_state(t2v) is None and not getattr(t2v, "peft_config", None)
    assert torch.equal(_forward(t2v, 16), _forward(plain, 16))


@pytest.mark.parametrize("change", ["unknown", "shape", "unpaired"])
def test_bad_keys_are_errors_naming_the_key(change):
    state = distill_lora_state(16, seed=5)
    key = "diffusion_model.blocks.0.ffn.0.lora_down.weight"
    if change == "unknown":
        key = "diffusion_model.blocks.0.ffn.0.lora_mid.weight"
        state[key] = torch.zeros(4, 4)
    elif change == "shape":
        key = "diffusion_model.blocks.0.norm3.diff"
        state[key] = torch.zeros(DIM + 1)
    else:
        del state["diffusion_model.blocks.0.ffn.0.lora_up.weight"]
    model = _base(16)
    with pytest.raises(LoraError, match=re.escape(key)):
        load_distill_lora(model, state)
    assert not getattr(model, "peft_config", None) and distill_state(model) is None


def test_a_full_delta_that_would_swamp_its_weight_is_refused():
    state = distill_lora_state(16, seed=5)
    key = "diffusion_model.blocks.0.norm3.diff"
    state[key] = torch.full_like(state[key], 1e30)  # finite, but the expert's output would be NaN
    model = _base(16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(LoraError, match=re.escape(key) + ".*the file is damaged"):
        load_distill_lora(model, state)
    assert distill_state(model) is None and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


# ------------------------------------------------------------------------------------------------ the engine
def _request(mode: str, profile: str, seed: int = 3) -> GenerationRequest:
    sampling = (dict(steps=DRAFT_STEPS, guidance=DRAFT_GUIDANCE, shift=DRAFT_SHIFT) if profile == "draft"
                else dict(steps=2, guidance=3.5, shift=12.0 if mode == "t2v" else 4.0))
    return GenerationRequest(shot_id="s", prompt="a lighthouse at dusk", mode=mode, seed=seed, width=64, height=48,
                             num_frames=9, engine="tiny", profile=profile,
                             boundary_ratio=0.875 if mode == "t2v" else 0.9, **sampling)


MEMORY = [np.full((48, 64, 3), 120, np.uint8)]


@pytest.fixture(scope="module")
def engine(tiny_models):
    return StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models)))


def _counting(pipe) -> dict[str, int]:
    calls = {"transformer": 0, "transformer_2": 0}
    for name in calls:
        getattr(pipe, name).register_forward_hook(lambda *_a, n=name: calls.__setitem__(n, calls[n] + 1))
    return calls


def test_draft_shot_runs_four_steps_one_call_each_and_final_is_unchanged(engine):
    final_t2v = engine.generate(_request("t2v", "final"))
    final_m2v = engine.generate(_request("m2v", "final"), memory=MEMORY)
    assert "distill_m2v" not in engine.load_counts  # loaded lazily, on the first draft shot only
    calls = _counting(engine.load("m2v"))
    steps = []
    draft = engine.generate(_request("m2v", "draft"), memory=MEMORY,
                            progress=lambda p: steps.append((p.step, p.phase)))
    assert draft.shape == final_m2v.shape and draft.dtype == np.uint8 and not np.array_equal(draft, final_m2v)
    # CFG off: one transformer call per step; steps 1-2 on the high-noise expert, 3-4 on the low-noise one.
    assert calls == {"transformer": 2, "transformer_2": 2}
    assert [s for s in steps if s[0] > 0 and "expert" in s[1]] == \
        [(1, "high-noise expert"), (2, "high-noise expert"), (3, "low-noise expert"), (4, "low-noise expert")]
    assert np.array_equal(engine.generate(_request("m2v", "draft"), memory=MEMORY), draft)  # deterministic
    # The final profile after a draft, in the same engine: bit-identical to before the distill pair loaded.
    assert np.array_equal(engine.generate(_request("m2v", "final"), memory=MEMORY), final_m2v)
    draft_t2v = engine.generate(_request("t2v", "draft"))
    assert not np.array_equal(draft_t2v, final_t2v)
    assert np.array_equal(engine.generate(_request("t2v", "final")), final_t2v)
    assert engine.load_counts["distill_m2v"] == 1 and engine.load_counts["distill_t2v"] == 1


def test_a_missing_distill_file_stops_the_draft_before_anything_loads(tiny_models, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models, symlinks=True)
    missing = DISTILL_FILES["m2v"][1]
    (models / DISTILL_FOLDER / missing).unlink()
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(models)))
    with pytest.raises(EngineError) as info:
        engine.generate(_request("m2v", "draft"), memory=MEMORY)
    assert missing in str(info.value) and "hf download lightx2v/Wan2.2-Distill-Loras" in str(info.value)
    assert not engine.load_counts  # nothing loaded, nothing denoised
    assert engine.generate(_request("m2v", "final"), memory=MEMORY).shape == (9, 48, 64, 3)  # final still runs


@pytest.mark.parametrize("preset", ["fp8_offload", "group_offload"])
def test_draft_under_presets_that_hook_or_cast_the_weights(tiny_models, preset):
    reference = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models)))
    other = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), offload=preset))
    final = other.generate(_request("m2v", "final"), memory=MEMORY)
    draft = other.generate(_request("m2v", "draft"), memory=MEMORY)
    assert np.array_equal(other.generate(_request("m2v", "final"), memory=MEMORY), final)
    if preset == "fp8_offload":
        # The distill LoRA keeps the compute dtype although the expert it joins is stored in fp8.
        layer = other.load("m2v").transformer.get_submodule("blocks.0.attn1.to_q")
        assert layer.base_layer.weight.dtype == torch.float8_e4m3fn
        assert layer.lora_A[DISTILL_ADAPTER].weight.dtype == torch.float32
    else:
        # group offload re-places weights per layer: the last bit of a few float32 sums may differ
        # (see test_offload._assert_same_frames); a distill adapter lost by the hooks would change most values.
        diff = np.abs(draft.astype(np.int16) - reference.generate(_request("m2v", "draft"), memory=MEMORY))
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (diff.max(), (diff > 0).mean())
