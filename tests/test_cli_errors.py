"""Every bad input to the headless CLI is a one-line message with exit code 2, and nothing is lost."""

import json

import pytest
import torch
from conftest import run_main
from safetensors.torch import save_file

from storymem_engine.models import missing_model_files


@pytest.fixture
def out_with_work(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "film.mp4").write_bytes(b"earlier film")
    (out / "notes.txt").write_text("keep me")
    return out


def _assert_untouched(out):
    assert (out / "film.mp4").read_bytes() == b"earlier film"
    assert (out / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["film.mp4", "notes.txt"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--frames", "80"], "frames must be 4n+1"),
        (["--offload", "turbo"], "invalid choice: 'turbo'"),
        (["--size", "830x480"], "multiples of 16"),
        (["--first-shot", "m2v"], "--first-shot m2v needs --reference"),
        (["--max-memory", "10", "--fix", "12"], "--fix must be between 0 and --max-memory"),
    ],
)
def test_bad_flag_values(story_paths, out_with_work, extra, message):
    result = run_main("render", str(story_paths["black"]), "--out", str(out_with_work), "--engine", "tiny", *extra)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    _assert_untouched(out_with_work)


def test_missing_and_malformed_story(tmp_path, out_with_work):
    result = run_main("render", str(tmp_path / "missing.json"), "--out", str(out_with_work), "--engine", "tiny")
    assert result.returncode == 2 and "missing.json: story file not found" in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"story_name": "x", "scenes": [{"scene_num": 1, "video_prompts": ["a"], "cut": [1]}]}))
    result = run_main("render", str(bad), "--out", str(out_with_work), "--engine", "tiny")
    assert result.returncode == 2
    assert "bad.json: scene 1, shot 1, field 'cut'" in result.stderr
    _assert_untouched(out_with_work)


def test_wan_engine_lists_every_missing_model_file_with_download_commands(story_paths, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    out = tmp_path / "out"  # read first: a rerun's continuation (which LoRA) is its project's
    result = run_main("render", str(story_paths["black"]), "--out", str(out), "--models", str(models))
    assert result.returncode == 2 and not out.exists()
    assert "Wan2.2-I2V-A14B-Diffusers/transformer/config.json" in result.stderr
    assert "StoryMem/Wan2.2-MI2V-A14B/backbone_high_noise.pth" in result.stderr
    assert "hf download Wan-AI/Wan2.2-T2V-A14B-Diffusers" in result.stderr
    assert 'hf download Kevin-thu/StoryMem --include "Wan2.2-MI2V-A14B/*"' in result.stderr
    # Keyframes are picked with CLIP ViT-B/32: its weights are part of the models folder.
    assert "CLIP-ViT-B-32/open_clip_model.safetensors" in result.stderr
    assert "hf download timm/vit_base_patch32_clip_224.openai" in result.stderr
    result = run_main("render", str(story_paths["black"]), "--out", str(out), "--models", str(models),
                      "--continuation", "mm2v")
    assert "StoryMem/Wan2.2-MM2V-A14B/backbone_high_noise.pth" in result.stderr and "MI2V" not in result.stderr


def test_missing_clip_stops_the_run_before_loading_unless_model_free_keyframes_are_chosen(
        story_paths, tiny_models, tmp_path):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    shutil.rmtree(models / "CLIP-ViT-B-32")
    assert missing_model_files(models) == ["CLIP-ViT-B-32/open_clip_config.json",
                                           "CLIP-ViT-B-32/open_clip_model.safetensors"]
    assert missing_model_files(models, clip=False) == []
    out = tmp_path / "out"
    result = run_main("render", str(story_paths["black"]), "--out", str(out), "--models", str(models))
    assert result.returncode == 2
    assert "CLIP-ViT-B-32/open_clip_config.json" in result.stderr and not out.exists()
    result = run_main("render", str(story_paths["black"]), "--out", str(out), "--engine", "tiny",
                      "--keyframe-similarity", "hsv", "--clip-weights", str(models))
    assert result.returncode == 2 and "--clip-weights is only used with" in result.stderr


def test_missing_model_files_names_exactly_what_is_gone(tiny_models, tmp_path):
    import shutil

    assert missing_model_files(tiny_models) == []
    copy = tmp_path / "models"
    shutil.copytree(tiny_models, copy)
    (copy / "Wan2.2-I2V-A14B-Diffusers/transformer_2/diffusion_pytorch_model.safetensors").unlink()
    (copy / "StoryMem/Wan2.2-MM2V-A14B/backbone_low_noise.pth").unlink()
    # Real A14B repos shard their experts, so the index file is what a user is told to fetch.
    expert = "Wan2.2-I2V-A14B-Diffusers/transformer_2/diffusion_pytorch_model.safetensors.index.json"
    assert missing_model_files(copy) == [expert]
    assert missing_model_files(copy, continuation="mm2v", first_shot="m2v") == [
        expert, "StoryMem/Wan2.2-MM2V-A14B/backbone_low_noise.pth",
    ]
    # With an index present, exactly the missing shards are named.
    shard_dir = copy / "Wan2.2-I2V-A14B-Diffusers/transformer_2"
    save_file({"a": torch.zeros(4)}, str(shard_dir / "diffusion_pytorch_model-00001-of-00002.safetensors"))
    (shard_dir / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "a": "diffusion_pytorch_model-00001-of-00002.safetensors",
        "b": "diffusion_pytorch_model-00002-of-00002.safetensors"}}))
    assert missing_model_files(copy) == [
        "Wan2.2-I2V-A14B-Diffusers/transformer_2/diffusion_pytorch_model-00002-of-00002.safetensors"]
    # An index cut off by a failed download, or another tool's file, is named itself, as there but unusable: fetch
    # it again.
    index = "Wan2.2-I2V-A14B-Diffusers/transformer_2/diffusion_pytorch_model.safetensors.index.json"
    (copy / index).write_text('{"weight_map": {"a": "diffusion_pytorch_mo')
    assert missing_model_files(copy) == [index + " (there, but not valid JSON (damaged or cut off))"]
    for broken in ("[]", '{"weight_map": []}', '{"weight_map": {"a": 5}}'):
        (copy / index).write_text(broken)
        assert missing_model_files(copy) == [index + " (there, but unreadable or incomplete)"], broken


def test_a_model_file_cut_off_or_empty_is_named_before_anything_loads(story_paths, tiny_models, tmp_path):
    """Only "is it there" passed a download cut off or a zero-byte placeholder, which then failed minutes into a
    load in a library's words (CLIP: after a whole shot, thrown away). Headers and configs are read instead."""
    import shutil

    copy = tmp_path / "models"
    shutil.copytree(tiny_models, copy)
    weights = copy / "Wan2.2-I2V-A14B-Diffusers/transformer/diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a download cut off halfway
    (copy / "Wan2.2-I2V-A14B-Diffusers/vae/config.json").write_text('{"z_dim": 1')  # cut off
    (copy / "CLIP-ViT-B-32/open_clip_model.safetensors").write_bytes(b"")  # a zero-byte placeholder
    lora = copy / "StoryMem/Wan2.2-MI2V-A14B/backbone_high_noise.pth"
    lora.write_bytes(lora.read_bytes()[:-100])  # a zip without its end
    missing = missing_model_files(copy)
    assert missing[0].startswith("Wan2.2-I2V-A14B-Diffusers/transformer/diffusion_pytorch_model.safetensors (there, "
                                 "but cut off: ")
    assert "(the download did not finish)" in missing[0]
    assert "Wan2.2-I2V-A14B-Diffusers/vae/config.json (there, but not valid JSON (damaged or cut off))" in missing
    assert ("StoryMem/Wan2.2-MI2V-A14B/backbone_high_noise.pth (there, but cut off (a PyTorch archive without its "
            "end: the download did not finish))") in missing
    assert ("CLIP-ViT-B-32/open_clip_model.safetensors (there, but empty (0 bytes): the download did not finish)"
            in missing)
    assert len(missing) == 4
    out = tmp_path / "out"
    result = run_main("render", str(story_paths["black"]), "--out", str(out), "--models", str(copy),
                      "--skip-memory-check")
    assert result.returncode == 2 and "cut off" in result.stderr and "hf download" in result.stderr
    assert not out.exists()


def test_a_preset_this_machine_cannot_hold_is_refused_before_anything_loads(story_paths, tiny_models, tmp_path):
    """Complete models, but 71.6 GiB of RAM and a GPU needed: one line naming both numbers, nothing written."""
    from storymem_engine.accounting import fits, preset_needs, this_machine

    if fits(preset_needs("model_offload"), this_machine()):
        pytest.skip("this machine holds the model_offload preset")
    out = tmp_path / "out"
    result = run_main("render", str(story_paths["black"]), "--out", str(out), "--models", str(tiny_models),
                      "--offload", "model_offload")
    assert result.returncode == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert f"needs {preset_needs('model_offload').ram_gib:.1f} GiB of RAM (this machine has" in line
    assert "--skip-memory-check" in line and not out.exists()
    # The default, auto, picks the preset first and is refused the same way when none fits.
    result = run_main("render", str(story_paths["black"]), "--out", str(out), "--models", str(tiny_models))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "GiB of RAM" in result.stderr and not out.exists()


def test_the_t2v_repo_needs_only_its_experts_and_scheduler(tiny_models, tmp_path):
    """The text encoder, tokenizer and VAE are loaded once, from the I2V repo: the T2V copies are never read."""
    import shutil

    copy = tmp_path / "models"
    shutil.copytree(tiny_models, copy)
    for part in ("text_encoder", "tokenizer", "vae"):
        shutil.rmtree(copy / "Wan2.2-T2V-A14B-Diffusers" / part)
    assert missing_model_files(copy) == []
    shutil.rmtree(copy / "Wan2.2-T2V-A14B-Diffusers" / "transformer_2")
    assert missing_model_files(copy) == [
        "Wan2.2-T2V-A14B-Diffusers/transformer_2/config.json",
        "Wan2.2-T2V-A14B-Diffusers/transformer_2/diffusion_pytorch_model.safetensors.index.json"]


def test_malformed_project_in_out_folder_is_reported_not_replaced(story_paths, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "project.json").write_text("{not json")
    result = run_main("render", str(story_paths["black"]), "--out", str(out), "--engine", "tiny")
    assert result.returncode == 2
    assert "project.json: not valid JSON" in result.stderr
    assert (out / "project.json").read_text() == "{not json"


def test_info_prints_the_summary(story_paths):
    result = run_main("info", str(story_paths["daiyu"]))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "story_name": json.loads(story_paths["daiyu"].read_text())["story_name"],
        "scenes": 4, "shots": 12,
        "cuts": [True, False, False, True, False, True, True, False, False, True, False, True],
    }


def test_an_out_folder_that_cannot_be_written_is_refused_before_anything_loads(story_paths, tmp_path, monkeypatch,
                                                                              capsys):
    """As a read-only disk or another user's folder: one line, exit 2, not "[Errno 30]" after the models load.
    (The suite runs as root, for whom no permission bit refuses a write: the check's answer is set here.)"""
    import os

    from storymem_engine import cli

    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(cli.os, "access", lambda path, mode: path != locked and real(path, mode))
    code = cli.main(["render", str(story_paths["black"]), "--out", str(locked / "film.storymem"), "--engine", "tiny"])
    assert code == 2 and list(locked.iterdir()) == []
    assert capsys.readouterr().err == (f"error: --out {locked / 'film.storymem'}: cannot write there (in {locked}): "
                                       "the folder is read-only or not yours; render into a folder you can write\n")


def test_render_help_shows_each_default_once_and_no_none():
    result = run_main("render", "--help")
    assert result.returncode == 0
    assert "(default: None)" not in result.stdout
    assert "memory RoPE stride S (1 is the public release's)" in " ".join(result.stdout.split())


def test_a_project_given_where_a_story_script_goes_is_named_as_one(tmp_path, story_paths):
    from storymem_engine.project import Project
    from storymem_engine.story import load_story

    folder = tmp_path / "queen.storymem"
    Project(folder=folder, story=load_story(story_paths["queen"])).save()
    for given in (folder, folder / "project.json"):
        result = run_main("info", str(given))
        assert result.returncode == 2
        assert result.stderr == (f"error: {given} is a StoryMem project, not a story script: info takes a story's "
                                 f"JSON (see main.py info --help); main.py export {folder} writes a project's film, "
                                 "shot list or timeline\n")


def test_a_misspelt_command_is_not_opened_as_a_file(story_paths):
    result = run_main("rendr", str(story_paths["black"]), "--out", "x")
    assert result.returncode == 2
    assert "error: 'rendr' is neither a command nor a file: did you mean main.py render?" in result.stderr


def test_the_tiny_engine_never_builds_over_a_folder_holding_anything(story_paths, tmp_path):
    """`--engine tiny --models <the real Wan download>` (swapping the engine "to check the install") replaced the
    folder whole with tiny random weights: it is refused, and the engine refuses the same below the CLI."""
    from storymem_engine.tiny import TinyFolderError, ensure_tiny_models

    models = tmp_path / "Wan models"
    (models / "StoryMem").mkdir(parents=True)
    (models / "StoryMem" / "backbone_high_noise.pth").write_bytes(b"weights the user downloaded")
    (models / "MY_NOTES.txt").write_text("keep me")
    out = tmp_path / "out"
    result = run_main("render", str(story_paths["black"]), "--out", str(out), "--engine", "tiny", "--models",
                      str(models))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "holds other files, not the tiny engine's models" in result.stderr and str(models) in result.stderr
    assert not out.exists()
    with pytest.raises(TinyFolderError, match="holds other files"):
        ensure_tiny_models(models)
    assert (models / "MY_NOTES.txt").read_text() == "keep me"
    assert sorted(p.name for p in models.iterdir()) == ["MY_NOTES.txt", "StoryMem"]
    assert (models / "StoryMem" / "backbone_high_noise.pth").read_bytes() == b"weights the user downloaded"


def test_the_download_commands_are_only_those_that_fetch_what_is_missing(tiny_models, tmp_path):
    """Only the CLIP weights missing: one command, not the four that fetch 120 GB again."""
    import shutil

    from storymem_engine.models import check_models, download_commands

    copy = tmp_path / "models"
    shutil.copytree(tiny_models, copy)
    (copy / "CLIP-ViT-B-32/open_clip_model.safetensors").unlink()
    with pytest.raises(FileNotFoundError) as raised:
        check_models(copy)
    assert raised.value.commands == [download_commands(copy)[-1]]
    assert "timm/vit_base_patch32" in raised.value.commands[0]
    assert len(download_commands(copy)) == 4  # with nothing said missing: every one


def test_skipping_the_memory_check_without_a_gpu_writes_nothing(story_paths, tiny_models, tmp_path):
    """--skip-memory-check on a machine with no CUDA GPU wrote the project, then failed to start the engine."""
    from storymem_engine.accounting import this_machine

    if this_machine().vram_gib is not None:
        pytest.skip("this machine has a CUDA GPU")
    out = tmp_path / "out"
    result = run_main("render", str(story_paths["black"]), "--out", str(out), "--models", str(tiny_models),
                      "--skip-memory-check")
    assert result.returncode == 2 and "needs a CUDA GPU and none was found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()
