"""Memory on the machines people have: what each preset holds, the preflight check, switching pipelines under
every preset through the real hook paths, the text encoder on the CPU, no double loads, memory freed."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

from storymem_engine.accounting import (
    A14B_SIZES,
    GIB,
    InsufficientMemory,
    Machine,
    fitting_preset,
    measure_sizes,
    preflight,
    preset_needs,
)
from storymem_engine.engine import EngineSettings, OutOfMemory, StoryMemEngine
from storymem_engine.models import EXACT_PRESETS, OFFLOAD_PRESETS
from storymem_engine.request import MODE_SCHEDULE, GenerationRequest

WORKSTATION = Machine(ram_gib=62.7, vram_gib=23.6, gpu_name="24 GB GPU")  # a 64 GB desktop with a 4090


# --- accounting ------------------------------------------------------------------------------------


def test_accounting_of_the_real_a14b_configs_on_the_meta_device():
    sizes = measure_sizes()
    assert sizes == A14B_SIZES  # the constants the app and the preflight use are the configs' own numbers
    assert round(sizes.expert / GIB, 1) == 26.7  # 14.29B parameters, bf16 (norms and time embedder fp32)
    assert round(sizes.text_encoder / GIB, 1) == 12.5  # UMT5-XXL encoder, its "wo" layers kept in fp32
    assert round(sizes.lora / GIB, 2) == 1.14  # rank 128 on 10 linears x 40 blocks
    assert sizes.expert_fp8 < 0.52 * sizes.expert  # fp8 storage halves the expert but for skipped layers


def test_each_preset_holds_what_it_should():
    needs = {p: preset_needs(p) for p in OFFLOAD_PRESETS}
    # VRAM falls down the list; RAM holds both experts except with fp8 storage.
    vram = [needs[p].vram_gib for p in OFFLOAD_PRESETS]
    assert vram == sorted(vram, reverse=True)
    assert needs["fp8_offload"].ram_gib < needs["model_offload"].ram_gib == needs["group_offload"].ram_gib
    # One bf16 expert plus its LoRA does not fit 24 GB: model_offload cannot, fp8_offload can.
    assert (A14B_SIZES.expert + A14B_SIZES.lora) / GIB > 24 > needs["fp8_offload"].vram_gib
    # The text encoder on the CPU takes its 12.5 GiB off full_gpu's VRAM.
    assert preset_needs("full_gpu").vram_gib - preset_needs("full_gpu", text_encoder_on_cpu=True).vram_gib == \
        pytest.approx(12.5 * 1.04, abs=0.1)  # with the allocator's overhead


def test_a_64_gb_desktop_with_a_24_gb_gpu_gets_the_fp8_preset():
    assert fitting_preset(WORKSTATION) == "fp8_offload"
    h100 = Machine(ram_gib=125.0, vram_gib=79.2)
    # Everything on an 80 GB card leaves no room for the VAE decode unless the text encoder stays on the CPU.
    assert fitting_preset(h100) == "model_offload"
    assert fitting_preset(h100, text_encoder_on_cpu=True) == "full_gpu"
    assert fitting_preset(Machine(ram_gib=125.0, vram_gib=39.4)) == "model_offload"
    assert fitting_preset(Machine(ram_gib=31.0, vram_gib=23.6)) is None


def test_preflight_names_both_numbers_and_the_preset_that_fits():
    with pytest.raises(InsufficientMemory) as info:
        preflight("model_offload", WORKSTATION)
    message = str(info.value)
    needs = preset_needs("model_offload")
    assert f"{needs.ram_gib:.1f} GiB of RAM" in message and "62.7 GiB" in message
    assert f"{needs.vram_gib:.1f} GiB of VRAM" in message and "23.6 GiB" in message
    assert "'fp8_offload' preset fits" in message
    assert preflight("fp8_offload", WORKSTATION) == preset_needs("fp8_offload")
    with pytest.raises(InsufficientMemory, match="no CUDA GPU|none was found"):
        preflight("sequential", Machine(ram_gib=250.0, vram_gib=None))


def test_readme_states_the_accounted_figures():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for preset in OFFLOAD_PRESETS:
        needs = preset_needs(preset)
        assert f"| `{preset}`" in readme
        assert f"{needs.ram_gib:.1f} GiB" in readme and f"{needs.vram_gib:.1f} GiB" in readme, preset
    assert "64 GB" in readme and "`fp8_offload`" in readme


# --- the engine under every preset, through the real hook paths ---------------------------------------


def _request(mode: str, seed: int = 4) -> GenerationRequest:
    shift, boundary = MODE_SCHEDULE[mode]
    return GenerationRequest(shot_id="s", prompt="a lighthouse at dusk", mode=mode, seed=seed, width=64, height=48,
                             num_frames=9, steps=2, shift=shift, boundary_ratio=boundary, engine="tiny")


MEMORY = [np.full((48, 64, 3), v, np.uint8) for v in (50, 200)]
FIRST = np.full((48, 64, 3), 120, np.uint8)


def _story_sequence(engine: StoryMemEngine) -> list[np.ndarray]:
    """T2V -> M2V -> MI2V -> T2V: every pipeline switch a story makes, and back."""
    return [engine.generate(_request("t2v")), engine.generate(_request("m2v"), memory=MEMORY),
            engine.generate(_request("mi2v"), memory=MEMORY, first_frame=FIRST), engine.generate(_request("t2v", 5))]


@pytest.fixture(scope="module")
def reference_frames(tiny_models):
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), offload="full_gpu"))
    return _story_sequence(engine)


@pytest.mark.parametrize("preset", [p for p in EXACT_PRESETS if p != "full_gpu"])
def test_switching_pipelines_under_every_preset_gives_the_full_gpu_frames(tiny_models, reference_frames, preset):
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), offload=preset))
    frames = _story_sequence(engine)
    for got, want in zip(frames, reference_frames, strict=True):
        _assert_same_frames(got, want)
    # Only one pair of experts at a time; the text encoder and VAE loaded once.
    assert engine.load_counts == {"shared": 1, "t2v": 2, "m2v": 1}
    assert list(engine._pipes) == ["t2v"]


def test_fp8_preset_stores_experts_in_fp8_and_computes_a_shot(tiny_models, reference_frames):
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), offload="fp8_offload"))
    frames = engine.generate(_request("m2v"), memory=MEMORY)
    assert frames.shape == reference_frames[1].shape
    expert = engine._m2v.transformer
    assert expert.blocks[0].attn1.to_q.base_layer.weight.dtype == torch.float8_e4m3fn
    lora_a = next(iter(expert.blocks[0].attn1.to_q.lora_A.values()))
    assert lora_a.weight.dtype == torch.float32  # the LoRA is not cast
    assert expert.patch_embedding.weight.dtype == torch.float32
    assert not np.array_equal(frames, reference_frames[1])  # not the method's numbers: labelled so in the UI


def test_no_double_load_after_an_m2v_first_shot(tiny_models):
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models)))
    engine.generate(_request("m2v"), memory=MEMORY)
    engine.generate(_request("t2v"))
    assert engine.load_counts == {"shared": 1, "m2v": 1, "t2v": 1}


@pytest.mark.parametrize("preset", OFFLOAD_PRESETS)
def test_text_encoder_stays_on_the_cpu_without_hooks_under_every_preset(tiny_models, reference_frames, preset):
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), offload=preset,
                                           text_encoder_on_cpu=True))
    frames = engine.generate(_request("t2v"))
    encoder = engine._shared.text_encoder
    assert encoder.device.type == "cpu"
    assert not hasattr(encoder, "_hf_hook")  # no accelerate hook moves it anywhere
    from diffusers.hooks.group_offloading import _is_group_offload_enabled

    assert not _is_group_offload_enabled(encoder)
    if preset != "fp8_offload":
        _assert_same_frames(frames, reference_frames[0])  # the prompt means the same, encoded on the CPU


def _assert_same_frames(got: np.ndarray, want: np.ndarray) -> None:
    """Equal frames. On a CPU the hooks re-place weights in memory (to "cpu:0"), and a few float32 sums then
    round differently in the last bit: at most 1 of 255 on under 0.1% of the values, where a wrong offload
    path (another expert, a missed LoRA, stale memory frames) changes most of them."""
    assert got.shape == want.shape
    diff = np.abs(got.astype(np.int16) - want)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (diff.max(), (diff > 0).mean())


def _expert_refs(engine: StoryMemEngine) -> list[weakref.ref]:
    return [weakref.ref(m) for pipe in engine._pipes.values() for m in (pipe.transformer, pipe.transformer_2)]


def test_unload_frees_the_experts_and_their_hooks(tiny_models):
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), offload="model_offload"))
    engine.generate(_request("m2v"), memory=MEMORY)
    refs = _expert_refs(engine)
    assert refs and all(r() is not None for r in refs)
    engine.unload()
    assert all(r() is None for r in refs)  # no gc.collect() here: unload collected the hook cycles


class _OutOfMemoryOnce:
    """Raises CUDA's out-of-memory error from an expert's first forward, as a full GPU does."""

    def __init__(self, times: int = 1) -> None:
        self.left = times

    def __call__(self, _module, _args, _kwargs):
        if self.left:
            self.left -= 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_cleans_up_and_retries_once_with_the_next_preset_down(tiny_models, reference_frames):
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), offload="model_offload"))
    engine.load("m2v")
    handle = engine._m2v.transformer.register_forward_pre_hook(_OutOfMemoryOnce(), with_kwargs=True)
    seen = []
    request = _request("m2v")
    try:
        frames = engine.generate(request, memory=MEMORY, progress=seen.append)
    finally:
        handle.remove()
    _assert_same_frames(frames, reference_frames[1])
    assert engine.settings.offload == request.offload == "group_offload"  # the take records what ran
    assert any("retrying with group_offload" in p.phase for p in seen)


def test_out_of_memory_at_the_lowest_preset_is_a_message_and_leaves_nothing_active(tiny_models):
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), offload="sequential"))
    engine.load("m2v")
    handle = engine._m2v.transformer.register_forward_pre_hook(_OutOfMemoryOnce(), with_kwargs=True)
    refs = _expert_refs(engine)
    with pytest.raises(OutOfMemory, match="ran out of memory with the 'sequential' preset"):
        engine.generate(_request("m2v"), memory=MEMORY)
    handle.remove()
    assert engine._active is None
    assert not hasattr(engine._m2v.transformer, "_hf_hook")  # hooks removed
    engine.unload()
    gc.collect()  # the test's own frames held the exception; the engine keeps nothing
    assert all(r() is None for r in refs)


def test_preset_change_in_the_engine_process_frees_the_old_engine(tiny_models):
    """The queue runner replaces the engine when a setting changes: the old experts must really go."""
    from storymem_engine.queue_runner import QueueRunner

    runner = QueueRunner(lambda *event: None)
    job_engine = dict(engine="tiny", models_dir=str(tiny_models), offload="model_offload")
    runner._engine = StoryMemEngine(EngineSettings(**job_engine))
    runner._engine_key = tuple(sorted(job_engine.items()))
    runner._engine.generate(_request("m2v"), memory=MEMORY)
    refs = _expert_refs(runner._engine)
    runner.unload()
    assert all(r() is None for r in refs)
