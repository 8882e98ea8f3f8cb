"""The engine against the official StoryMem run (Kevin-thu/StoryMem): sampler grid, defaults, seeds, noise,
VAE tiling, de-duplication against the whole memory bank. Values are computed here from the official
formulas, not read back from the engine's own helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from storymem_engine.director import Director, DirectorSettings, index_in_scene
from storymem_engine.engine import EngineSettings, StoryMemEngine
from storymem_engine.project import Project
from storymem_engine.request import (
    DROPPED_FRAMES,
    MODE_SCHEDULE,
    WAN_NEGATIVE_PROMPT,
    GenerationRequest,
    size_for_aspect,
)
from storymem_engine.story import Shot, Story, load_story

# wan/configs/shared_config.py of the official release, verbatim.
OFFICIAL_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
    "杂乱的背景，三条腿，背景人很多，倒着走"
)


def official_schedule(steps: int, shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """wan/utils/fm_solvers_unipc.py, FlowUniPCMultistepScheduler(shift=1).set_timesteps(steps, shift=shift)."""
    alphas = np.linspace(1, 1 / 1000, 1000)[::-1].copy()
    train_sigmas = torch.from_numpy(1.0 - alphas).to(dtype=torch.float32)
    sigma_max, sigma_min = train_sigmas[0].item(), train_sigmas[-1].item()
    sigmas = np.linspace(sigma_max, sigma_min, steps + 1).copy()[:-1]
    sigmas = shift * sigmas / (1 + (shift - 1) * sigmas)
    timesteps = torch.from_numpy(sigmas * 1000).to(dtype=torch.int64)
    return torch.from_numpy(np.concatenate([sigmas, [0]]).astype(np.float32)), timesteps


@pytest.fixture(scope="module")
def engine(tiny_models):
    return StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models)))


def _request(mode: str, steps: int, seed: int = 3) -> GenerationRequest:
    shift, boundary = MODE_SCHEDULE[mode]
    return GenerationRequest(shot_id="s", prompt="a lighthouse at dusk", mode=mode, seed=seed, width=64, height=48,
                             num_frames=9, steps=steps, shift=shift, boundary_ratio=boundary, engine="tiny")


# --- 1. the sampler's grid --------------------------------------------------------------------


@pytest.mark.parametrize("steps", [40, 6])
@pytest.mark.parametrize("mode", ["t2v", "m2v"])
def test_sampler_sigmas_and_timesteps_are_the_official_ones(engine, mode, steps):
    memory = [] if mode == "t2v" else [np.full((48, 64, 3), 90, np.uint8)]
    engine.generate(_request(mode, steps), memory=memory)
    scheduler = (engine._t2v if mode == "t2v" else engine._m2v).scheduler
    sigmas, timesteps = official_schedule(steps, MODE_SCHEDULE[mode][0])
    assert torch.equal(scheduler.sigmas, sigmas)
    assert torch.equal(scheduler.timesteps.cpu(), timesteps)
    assert scheduler.config.solver_order == 2 and scheduler.config.solver_type == "bh2"
    assert scheduler.config.prediction_type == "flow_prediction"


# --- the defaults the method fixes ----------------------------------------------------------------


def test_mode_schedule_and_sampling_defaults_are_the_methods():
    assert MODE_SCHEDULE == {"t2v": (12.0, 0.875), "m2v": (4.0, 0.9), "mi2v": (4.0, 0.9), "mm2v": (4.0, 0.9)}
    settings = DirectorSettings()
    assert (settings.steps, settings.guidance, settings.frames) == (40, 3.5, 81)
    assert (settings.width, settings.height) == (832, 480)
    assert (settings.max_memory, settings.fix, settings.seed_rule) == (10, 3, "scene")
    request = GenerationRequest(shot_id="s", prompt="p", mode="m2v", seed=0)
    assert (request.steps, request.guidance, request.num_frames) == (40, 3.5, 81)
    assert (request.width, request.height) == (832, 480)
    assert WAN_NEGATIVE_PROMPT == OFFICIAL_NEGATIVE_PROMPT == request.negative_prompt
    assert DROPPED_FRAMES == {"t2v": 0, "m2v": 0, "mi2v": 1, "mm2v": 5}
    engine = EngineSettings()
    assert (engine.rope_stride, engine.vae_tiling, engine.keyframe_similarity) == (1, False, "clip")


def test_both_experts_get_the_same_guidance(engine):
    engine.generate(_request("m2v", 4), memory=[np.full((48, 64, 3), 90, np.uint8)])
    pipe = engine._m2v
    assert pipe.guidance_scale == 3.5 and pipe._guidance_scale_2 == 3.5
    assert pipe.config.boundary_ratio == 0.9


def test_the_first_m_latent_frames_are_dropped_before_decode(engine):
    """Decode sees exactly the shot's latent frames: the final latents without the M memory slots."""
    from storymem_engine.conditioning import build_memory_condition
    from storymem_engine.engine import to_tensor_image

    engine.generate(_request("m2v", 2), memory=[np.full((48, 64, 3), 90, np.uint8)])  # loads the models
    pipe = engine._m2v
    memory = [to_tensor_image(np.full((48, 64, 3), v, np.uint8)) for v in (40, 200)]
    condition = build_memory_condition(pipe.vae, memory, 9, 48, 64)
    final, decoded = {}, {}

    def keep_final(_pipe, i, t, kwargs):
        final["latents"] = kwargs["latents"].clone()
        return {}

    original = pipe.decode_latents

    def decode(latents):
        decoded["latents"] = latents.clone()
        return original(latents)

    pipe.decode_latents = decode
    try:
        frames = pipe.generate_with_memory(condition, 2, 9, height=48, width=64, prompt="p", negative_prompt="",
                                           num_inference_steps=2, guidance_scale=3.5,
                                           generator=torch.Generator().manual_seed(0), callback_on_step_end=keep_final)
    finally:
        del pipe.decode_latents
    assert final["latents"].shape[2] == 2 + 3
    torch.testing.assert_close(decoded["latents"], final["latents"][:, :, 2:], rtol=0, atol=0)
    assert frames.shape == (9, 48, 64, 3)


def test_shot_size_follows_the_references_rounding():
    # lat = round(sqrt(area * h/w)) // 8 // 2 * 2: each side floored to 16 after rounding.
    assert size_for_aspect(832, 480, 480, 832) == (832, 480)
    assert size_for_aspect(832, 480, 1000, 1000) == (624, 624)  # round(sqrt(399360)) = 632 -> 624, not 640
    assert size_for_aspect(832, 480, 832, 480) == (480, 832)


# --- 6. seeds and noise ---------------------------------------------------------------------------


def test_default_seed_is_seed_plus_index_within_the_scene(engine, story_paths, tmp_path):
    story = load_story(story_paths["daiyu"])  # 4 scenes of 3 shots
    project = Project(tmp_path / "p.storymem", story)
    director = Director(project, engine, DirectorSettings(seed=100, width=64, height=48, frames=9, steps=2))
    scenes = [s.scene_num for s in story.shots]
    expected = [100 + sum(1 for j in range(i) if scenes[j] == scenes[i] and all(
        scenes[k] == scenes[i] for k in range(j, i))) for i in range(len(scenes))]
    assert [director.seed_for(i) for i in range(len(scenes))] == [(e, "scene") for e in expected]
    assert expected == [100, 101, 102] * 4
    story_rule = Director(project, engine, DirectorSettings(seed=100, seed_rule="story", width=64, height=48,
                                                            frames=9, steps=2))
    assert [story_rule.seed_for(i) for i in range(len(scenes))] == [(100 + i, "story") for i in range(len(scenes))]
    story.shots[2].seed = 7
    assert director.seed_for(2) == (7, "shot")


def test_index_within_scene_counts_the_run_of_the_shots_scene():
    story = Story(name="s", shots=[Shot(id=f"s{i}", prompt="p", cut=c, scene_num=n) for i, (n, c) in
                                   enumerate([(1, True), (1, False), (1, True), (2, True), (2, False), (3, True)])])
    assert [index_in_scene(story, i) for i in range(6)] == [0, 1, 2, 0, 1, 0]


def test_noise_is_drawn_like_the_reference(engine):
    """One float32 draw of [16, M+T, h, w] from a generator seeded with the shot's seed (on CUDA the
    reference's CUDA generator: checked on a GPU, see the issue note)."""
    captured = {}

    def first_input(_module, args, kwargs):
        captured.setdefault("x", kwargs["hidden_states"].clone())

    request = _request("m2v", 2, seed=11)
    engine.generate(request, memory=[np.full((48, 64, 3), 90, np.uint8)])  # loads the models
    handle = engine._m2v.transformer.register_forward_pre_hook(first_input, with_kwargs=True)
    try:
        engine.generate(request, memory=[np.full((48, 64, 3), 90, np.uint8)])
    finally:
        handle.remove()
    expected = torch.randn(16, 1 + 3, 6, 8, dtype=torch.float32, generator=torch.Generator().manual_seed(11))
    assert torch.equal(captured["x"][0, :16], expected)


# --- 4. VAE tiling ------------------------------------------------------------------------------------


def test_vae_encodes_whole_frames_unless_a_low_vram_preset_or_the_user_asks(tiny_models):
    whole = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models)))
    whole.load("m2v")
    assert whole._m2v.vae.use_tiling is False
    for settings in (dict(offload="group_offload"), dict(offload="sequential"), dict(vae_tiling=True)):
        tiled = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models), **settings))
        assert tiled.settings.vae_tiled
        tiled.load("m2v")
        assert tiled._m2v.vae.use_tiling is True


# --- 5. de-duplication against the whole bank --------------------------------------------------


def _repeat_story() -> Story:
    # Shot 3 repeats shot 1 exactly (same prompt, seed and mode): its keyframes are shot 1's keyframes.
    shots = [Shot(id="a", prompt="a red kite over the sea", cut=True, seed=5, mode="t2v"),
             Shot(id="b", prompt="a lighthouse at night", cut=True, seed=6, mode="t2v"),
             Shot(id="c", prompt="a red kite over the sea", cut=True, seed=5, mode="t2v")]
    return Story(name="repeat", shots=shots)


@pytest.mark.parametrize("exclude", [False, True])
def test_keyframes_repeating_any_saved_keyframe_are_dropped(engine, tmp_path, exclude):
    story = _repeat_story()
    project = Project(tmp_path / "p.storymem", story)
    # max_memory 1 and no sink: shot 1's keyframes are not in shot 3's memory window, only in the bank.
    director = Director(project, engine, DirectorSettings(width=64, height=48, frames=9, steps=2, max_memory=1, fix=0))
    first = director.generate_shot(0)
    director.generate_shot(1)
    assert first.keyframes
    if exclude:  # excluded keyframes are not memory: a new keyframe like them is kept
        story.memory_exclusions = [f"{first.id}:{n}" for n in range(len(first.keyframes))]
    third = director.generate_shot(2)
    assert third.backends["similarity"] == "clip-vit-b-32"
    if exclude:
        assert len(third.keyframes) == len(first.keyframes)
    else:
        assert third.keyframes == []
