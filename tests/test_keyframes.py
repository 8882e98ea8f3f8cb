"""Keyframe extraction, similarity backends and the quality gate, on synthetic clips."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from storymem_engine.keyframes import KeyframeSettings, extract_keyframes  # noqa: E402
from storymem_engine.quality import SharpnessExposureQuality, hpsv3_available, make_quality  # noqa: E402
from storymem_engine.similarity import (  # noqa: E402
    ClipSimilarity,
    ClipWeightsError,
    HsvPatchSimilarity,
    make_similarity,
    smart_resize,
)
from storymem_engine.story import keyframe_note  # noqa: E402

H, W = 96, 160
SEGMENT = 8


def scene(seed: int) -> np.ndarray:
    """A textured frame: random 8x8 blocks in a bright and a dark colour, distinct per seed."""
    rng = np.random.default_rng(seed)
    mask = np.kron(rng.random((H // 8, W // 8)) < 0.5, np.ones((8, 8), dtype=bool))
    bright = rng.integers(120, 256, 3)
    dark = rng.integers(10, 60, 3)
    return np.where(mask[..., None], bright, dark).astype(np.uint8)


def clip(seeds: list[int], per: int = SEGMENT, noise: float = 3.0) -> np.ndarray:
    """One segment per seed, each ``per`` frames of the same scene with a little sensor noise."""
    rng = np.random.default_rng(1234)
    frames = []
    for seed in seeds:
        base = scene(seed).astype(np.float64)
        for _ in range(per):
            frames.append(np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8))
    return np.stack(frames)


@pytest.fixture(scope="module")
def hsv():
    return HsvPatchSimilarity()


@pytest.fixture(scope="module")
def gate():
    return SharpnessExposureQuality()


# --- extraction with the model-free backends -------------------------------------------------


def test_one_keyframe_per_scene_at_the_scene_starts(hsv, gate):
    result = extract_keyframes(clip([1, 2, 3]), similarity=hsv, quality=gate)
    assert result.indices == [0, SEGMENT, 2 * SEGMENT]
    assert result.threshold == pytest.approx(0.9)
    assert result.backends == {"similarity": "hsv-patch", "quality": "sharpness-exposure"}
    assert result.message == ""


def test_static_shot_gives_a_single_keyframe(hsv, gate):
    result = extract_keyframes(clip([5], per=20), similarity=hsv, quality=gate)
    assert result.indices == [0]


def test_busy_shot_is_capped_at_three_keyframes_by_lowering_the_threshold(hsv, gate):
    frames = clip([1, 2, 3, 4, 5, 6])
    # Without the cap every scene change is a keyframe...
    uncapped = extract_keyframes(frames, settings=KeyframeSettings(max_keyframes=10), similarity=hsv, quality=gate)
    assert uncapped.indices == [i * SEGMENT for i in range(6)]
    # ...with the reference cap of 3 the threshold drops until at most 3 remain, all at scene starts.
    result = extract_keyframes(frames, similarity=hsv, quality=gate)
    assert 1 <= len(result.indices) <= 3
    assert result.indices[0] == 0
    assert all(i % SEGMENT == 0 for i in result.indices)
    assert result.threshold < 0.9


def test_keyframe_repeating_a_memory_image_is_dropped(hsv, gate):
    frames = clip([1, 2, 3])
    memory = [scene(2)]  # the second scene is already in memory (as a clean image)
    result = extract_keyframes(frames, memory_frames=memory, similarity=hsv, quality=gate)
    assert result.indices == [0, 2 * SEGMENT]
    assert result.memory_duplicates == [SEGMENT]
    assert "memory" in result.message


def test_memory_images_of_another_size_are_compared_at_the_shot_size(hsv, gate):
    frames = clip([1, 2, 3])
    big = cv2.resize(scene(3), (W * 3, H * 3), interpolation=cv2.INTER_NEAREST)
    result = extract_keyframes(frames, memory_frames=[big], similarity=hsv, quality=gate)
    assert result.indices == [0, SEGMENT]
    assert result.memory_duplicates == [2 * SEGMENT]


def test_unrelated_memory_drops_nothing(hsv, gate):
    result = extract_keyframes(clip([1, 2, 3]), memory_frames=[scene(42)], similarity=hsv, quality=gate)
    assert result.indices == [0, SEGMENT, 2 * SEGMENT]
    assert result.memory_duplicates == []


def test_black_clip_yields_no_keyframes_and_says_why(hsv, gate):
    result = extract_keyframes(np.zeros((12, H, W, 3), np.uint8), similarity=hsv, quality=gate)
    assert result.indices == []
    assert result.backends["quality"] == "sharpness-exposure"
    assert "sharpness-exposure" in result.message and "quality" in result.message


def test_fade_in_starts_at_the_first_usable_frame(hsv, gate):
    frames = clip([7], per=12)
    frames[:4] = 0  # four black frames before the picture appears
    assert extract_keyframes(frames, similarity=hsv, quality=gate).indices == [4]


def test_frame_one_is_skipped_like_the_reference(hsv, gate):
    # A cut right after frame 0: the reference walk starts at frame 2, so frame 2 is the keyframe.
    frames = np.concatenate([clip([1], per=1), clip([2], per=9)])
    assert extract_keyframes(frames, similarity=hsv, quality=gate).indices == [0, 2]


def test_low_quality_frames_after_a_cut_are_not_keyframes(hsv, gate):
    frames = clip([1, 2])
    frames[SEGMENT : SEGMENT + 3] = cv2.GaussianBlur(frames[SEGMENT], (0, 0), 15)  # blurred start
    assert extract_keyframes(frames, similarity=hsv, quality=gate).indices == [0, SEGMENT + 3]


def test_model_free_similarity_only_when_asked_for_and_then_named(gate):
    settings = KeyframeSettings(similarity="hsv", quality="sharpness-exposure")
    result = extract_keyframes(clip([1, 2]), settings=settings)
    assert result.backends == {"similarity": "hsv-patch", "quality": "sharpness-exposure"}
    assert result.indices == [0, SEGMENT]
    assert keyframe_note(result.backends) == "keyframes picked without CLIP (hsv-patch)"
    assert keyframe_note({"similarity": "clip-vit-b-32", "quality": "hpsv3"}) == ""


def test_default_settings_use_clip_and_refuse_to_run_without_its_weights(gate):
    """The method's CLIP is the default: no weights is an error, never a silent switch to HSV."""
    assert KeyframeSettings().similarity == "clip"
    with pytest.raises(ClipWeightsError, match="CLIP"):
        extract_keyframes(clip([1, 2]), settings=KeyframeSettings(quality="sharpness-exposure"))


def test_bad_frames_are_rejected(hsv, gate):
    with pytest.raises(ValueError, match="uint8"):
        extract_keyframes(np.zeros((4, H, W, 3), np.float32), similarity=hsv, quality=gate)
    with pytest.raises(ValueError, match="RGB"):
        extract_keyframes(np.zeros((4, H, W), np.uint8), similarity=hsv, quality=gate)


# --- similarity and quality backends ---------------------------------------------------------


def test_analysis_size_matches_the_reference():
    assert smart_resize(480, 832) == (336, 588)
    assert smart_resize(832, 480) == (588, 336)


def test_hsv_similarity_is_high_within_a_scene_and_low_across(hsv):
    frames = clip([1, 2], per=2)
    feats = hsv.embed(frames)
    assert hsv.similarity(feats[0], feats[0]) == pytest.approx(1.0)
    assert hsv.similarity(feats[0], feats[1]) > 0.95  # same scene, different noise
    assert hsv.similarity(feats[0], feats[2]) < 0.8  # different scene
    matrix = hsv.pairwise(feats, feats)
    assert matrix.shape == (4, 4)
    np.testing.assert_allclose(matrix, matrix.T)


def test_quality_gate_rejects_black_blown_out_and_blurred_frames(gate):
    ordinary = scene(3)
    frames = np.stack(
        [
            ordinary,
            np.zeros_like(ordinary),
            np.full_like(ordinary, 255),
            cv2.GaussianBlur(ordinary, (0, 0), 15),
            np.full_like(ordinary, 128),  # flat grey
        ]
    )
    scores = gate.score(frames)
    assert scores.shape == (5,)
    assert scores[0] >= gate.threshold
    assert all(s < gate.threshold for s in scores[1:])
    assert ((scores >= 0) & (scores <= 1)).all()


def test_auto_quality_uses_hpsv3_only_when_installed():
    gate = make_quality("auto")
    assert gate.name == ("hpsv3" if hpsv3_available() else "sharpness-exposure")
    assert make_quality("sharpness-exposure").name == "sharpness-exposure"
    with pytest.raises(ValueError, match="unknown quality gate"):
        make_quality("aesthetic")


@pytest.mark.skipif(hpsv3_available(), reason="hpsv3 is installed")
def test_asking_for_hpsv3_without_the_package_is_an_error_not_a_substitute():
    with pytest.raises(ImportError, match="hpsv3"):
        make_quality("hpsv3")


def test_importing_the_engine_does_not_pull_in_torch_or_qt():
    code = (
        "import sys, storymem_engine.keyframes, storymem_engine.memory; "
        "bad = [m for m in ('torch', 'open_clip', 'PySide6') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- CLIP, loaded from a local file (random weights: mechanics only) --------------------------


@pytest.fixture(scope="module")
def clip_weights(tmp_path_factory):
    import open_clip
    import torch

    # The architecture on the meta device gives the exact keys and shapes without the slow
    # random init; uniform noise in half precision is the cheapest file the real loader accepts.
    model = open_clip.create_model("ViT-B-32", pretrained=None, device="meta")
    gen = torch.Generator().manual_seed(0)
    state = {
        k: torch.empty(v.shape, dtype=torch.float16).uniform_(-0.05, 0.05, generator=gen)
        for k, v in model.state_dict().items()
    }
    path = tmp_path_factory.mktemp("clip") / "vit-b-32-random.pt"
    torch.save(state, path)
    return str(path)


@pytest.fixture(scope="module")
def clip_sim(clip_weights):
    return make_similarity("clip", clip_weights)


def test_clip_loads_from_a_local_file_and_embeds_224px_frames(clip_sim):
    assert isinstance(clip_sim, ClipSimilarity)
    assert clip_sim.name == "clip-vit-b-32"
    frames = clip([1, 2], per=1)
    assert tuple(clip_sim.preprocess(clip_sim.analysis_frames(frames)).shape) == (2, 3, 224, 224)
    feats = clip_sim.embed(np.concatenate([frames, frames[:1]]))
    assert feats.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    assert clip_sim.similarity(feats[0], feats[2]) == pytest.approx(1.0, abs=1e-5)


def test_extraction_with_clip_names_the_backend(clip_sim, gate):
    result = extract_keyframes(clip([1, 2], per=3), similarity=clip_sim, quality=gate)
    assert result.backends["similarity"] == "clip-vit-b-32"
    assert result.indices[0] == 0 and 1 <= len(result.indices) <= 3


def test_settings_with_clip_weights_select_clip(clip_weights, gate):
    result = extract_keyframes(clip([1], per=3), settings=KeyframeSettings(clip_weights=clip_weights), quality=gate)
    assert result.backends["similarity"] == "clip-vit-b-32"
    assert result.indices == [0]


def test_missing_clip_weights_is_a_clear_error_naming_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "ViT-B-32.pt"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ClipSimilarity(missing)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        make_similarity("clip", str(missing))
    with pytest.raises(ClipWeightsError):
        make_similarity("clip", None)
    assert make_similarity("hsv").name == "hsv-patch"


def _reference_clip_embedding(model, chw):
    """The reference's get_frame_sim_clip preprocessing, literally: one [3, H, W] frame -> unit embedding."""
    import torch
    import torch.nn.functional as F

    x = chw.float()
    if x.max() > 1.5:
        x = x / 255.0
    x = x.clamp(0.0, 1.0)[None]
    x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    with torch.no_grad():
        return F.normalize(model.encode_image((x - mean) / std), dim=-1)[0].numpy()


def test_clip_walk_and_dedup_features_are_the_references(clip_sim):
    """The walk scores frames at the analysis size (antialiased uint8 resize); de-duplication scores
    whole frames and saved keyframes at their own size, each squashed to 224x224."""
    import torch
    import torch.nn.functional as F

    frames = clip([1, 2], per=2)
    x = torch.tensor(frames).permute(0, 3, 1, 2)
    size = smart_resize(H, W, 28, 48 * 28 * 28, 256 * 28 * 28)
    resized = F.interpolate(x, list(size), mode="bilinear", antialias=True).float()
    walk = np.stack([_reference_clip_embedding(clip_sim.model, f) for f in resized])
    np.testing.assert_allclose(clip_sim.embed(frames), walk, atol=2e-5)

    big = cv2.resize(scene(5), (W * 2, H * 2), interpolation=cv2.INTER_NEAREST)
    whole = np.stack([_reference_clip_embedding(clip_sim.model, torch.tensor(im).permute(2, 0, 1))
                      for im in (frames[0], big)])
    np.testing.assert_allclose(clip_sim.embed_images([frames[0], big], (H, W)), whole, atol=2e-5)


def test_clip_loads_an_open_clip_model_folder(tmp_path):
    """The models folder holds CLIP as the Hub does (open_clip_config.json + weights): it loads offline."""
    from storymem_engine.similarity import load_clip_similarity
    from storymem_engine.tiny import _build_clip

    _build_clip(tmp_path / "CLIP-ViT-B-32")
    sim = load_clip_similarity(tmp_path / "CLIP-ViT-B-32")
    assert sim.name == "clip-vit-b-32"
    feats = sim.embed(clip([1, 2], per=2))
    same, other = sim.pairwise(feats[:1], feats[1:2])[0, 0], sim.pairwise(feats[:1], feats[2:3])[0, 0]
    assert same > 0.95 > other  # the tiny CLIP tells scenes apart, so tiny runs fill their memory
    (tmp_path / "CLIP-ViT-B-32" / "open_clip_model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="open_clip_model.safetensors"):
        load_clip_similarity(tmp_path / "CLIP-ViT-B-32")


def test_memory_images_are_embedded_once_per_engine_not_once_per_shot(clip_sim, monkeypatch):
    rng = np.random.default_rng(3)
    bank = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    first = clip_sim.embed_images(bank, (48, 64))
    encoded = []
    real = clip_sim._encode
    monkeypatch.setattr(clip_sim, "_encode", lambda batches: (encoded.append(1), real(list(batches)))[1])
    newer = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    again = clip_sim.embed_images([*bank, newer], (48, 64))
    assert len(encoded) == 1 and np.array_equal(again[:3], first)  # only the new image went through CLIP
    fresh = type(clip_sim)(clip_sim.weights_path).embed_images([newer], (48, 64))
    assert np.array_equal(again[3:], fresh)  # a cached row is the same numbers as embedding it alone
