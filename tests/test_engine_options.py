"""VRAM/speed options of EngineSettings: the "auto" offload preset, the attention backend, regional compile."""

from __future__ import annotations

import pytest

from storymem_engine.accounting import choose_preset, preset_needs
from storymem_engine.engine import EngineError, EngineSettings, StoryMemEngine
from storymem_engine.models import OFFLOAD_CHOICES, OFFLOAD_PRESETS


@pytest.mark.parametrize(("free_vram", "ram", "encoder_on_cpu", "want"), [
    (139.0, 256.0, False, "full_gpu"),  # an H200: everything on the GPU (full_gpu needs 80.4 GiB)
    (79.2, 256.0, False, "model_offload"),  # an 80 GB H100: 80.4 GiB does not fit, one expert at a time does
    (79.2, 256.0, True, "full_gpu"),  # ... unless the text encoder stays on the CPU (67.5 GiB)
    (23.6, 62.7, False, "fp8_offload"),  # a 24 GB card in a 64 GB desktop: fp8 storage (21.5 GiB, 46 GiB RAM)
    (15.5, 125.0, False, "group_offload"),  # 16 GB: layer groups streamed (10.3 GiB)
])
def test_auto_picks_the_fastest_preset_the_accounting_fits(free_vram, ram, encoder_on_cpu, want):
    preset, reason = choose_preset(free_vram, ram, text_encoder_on_cpu=encoder_on_cpu)
    assert preset == want
    needs = preset_needs(want, text_encoder_on_cpu=encoder_on_cpu)
    assert f"'{want}' is the fastest preset that fits" in reason
    assert f"{needs.vram_gib:.1f} GiB of VRAM" in reason and f"{free_vram:.1f} GiB of VRAM free" in reason
    faster = OFFLOAD_PRESETS[:OFFLOAD_PRESETS.index(want)]
    assert all(f"{p} needs" in reason for p in faster)  # says why each faster one was passed over


def test_auto_with_nothing_fitting_says_so():
    preset, reason = choose_preset(None, 32.0)
    assert preset in OFFLOAD_PRESETS and reason.startswith("No preset fits this machine (no CUDA GPU")
    preset, reason = choose_preset(6.0, 64.0)
    assert preset == "fp8_offload" and "No preset fits" in reason  # the only one whose RAM fits; preflight refuses


def test_auto_offload_is_resolved_when_the_engine_starts(tiny_models):
    assert "auto" in OFFLOAD_CHOICES and "auto" not in OFFLOAD_PRESETS  # apply_offload only ever sees a preset
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), offload="auto"))
    assert engine.settings.offload == "model_offload" and "tiny engine" in engine.preset_reason
    chosen = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), offload="group_offload"))
    assert chosen.preset_reason == "'group_offload' as set in the settings."
    with pytest.raises(ValueError, match="unknown offload preset"):
        EngineSettings(offload="fastest").validate()


def test_attention_backend_auto_is_sdpa_on_a_cpu_and_a_missing_kernel_is_a_message(tiny_models):
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models)))
    assert engine.attention_backend_name is None  # known once a pipeline loads
    pipe = engine.load("t2v")
    assert engine.attention_backend_name == "native"
    # "native" sets nothing: diffusers' default dispatch, the computation as before.
    assert all(getattr(m.processor, "_attention_backend", None) is None
               for m in pipe.transformer.modules() if hasattr(m, "processor"))
    with pytest.raises(ValueError, match="unknown attention backend"):
        EngineSettings(attention_backend="fastest").validate()
    from diffusers.utils import is_flash_attn_available

    if not is_flash_attn_available():
        flash = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), attention_backend="flash"))
        with pytest.raises(EngineError, match="'flash' attention backend cannot run here"):
            flash.load("t2v")


def test_compile_blocks_compiles_each_repeated_block_of_both_experts(tiny_models):
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), compile_blocks=True))
    pipe = engine.load("m2v")
    for expert in (pipe.transformer, pipe.transformer_2):
        blocks = list(expert.blocks)
        assert blocks and all(b._compiled_call_impl is not None for b in blocks)  # compiled lazily, on first call
        assert expert._compiled_call_impl is None  # regional: the blocks only
    plain = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models)))
    assert all(b._compiled_call_impl is None for b in plain.load("t2v").transformer.blocks)
