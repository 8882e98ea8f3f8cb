"""Settings > GPUs: the GPUs this machine has, and GPUs per shot, which splits every shot of the app's queues
across that many of them (engine_group.py; on the CPU the ranks run with gloo and the test-only shim)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from rank_processes import ranks_of
from ui_helpers import set_render, statuses

from storyboard.app_settings import AppSettings
from storyboard.settings_dialog import SettingsDialog
from storymem_engine import multi_gpu

WAIT_MS = 90_000


def test_settings_list_the_gpus_and_set_gpus_per_shot(qtbot, monkeypatch, tmp_path):
    driver = tmp_path / "gpus"
    for n in range(4):  # what the NVIDIA driver shows in /proc/driver/nvidia/gpus on a 4-GPU machine
        (driver / f"0000:{0x18 + n:02x}:00.0").mkdir(parents=True)
        (driver / f"0000:{0x18 + n:02x}:00.0" / "information").write_text("Model: \t\t NVIDIA H100 80GB HBM3\n")
    monkeypatch.setattr(multi_gpu, "NVIDIA_PROC", driver)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    dialog = SettingsDialog(AppSettings(gpus_per_shot=8))  # saved on a bigger machine
    qtbot.addWidget(dialog)
    assert dialog.gpu_list.text().splitlines() == [f"GPU {n}: NVIDIA H100 80GB HBM3" for n in range(4)]
    assert dialog.gpu_note.text() == multi_gpu.gpu_note(4)
    assert dialog.gpus_per_shot.isEnabled() and dialog.gpus_per_shot.maximum() == 4
    assert dialog.gpus_per_shot.value() == 4  # what this machine can do
    dialog.gpus_per_shot.setValue(2)
    dialog.parallel_mode.setCurrentIndex(dialog.parallel_mode.findData("ring"))
    values = dialog.values()
    assert (values.gpus_per_shot, values.parallel_mode) == (2, "ring")
    dialog.shard_weights.setChecked(True)
    assert dialog.values().shard_weights
    from storymem_engine.accounting import preset_needs

    sharded = preset_needs("full_gpu", shards=2)
    needs = " ".join(dialog.gpu_needs.text().split())
    assert (f"each GPU needs {sharded.vram_gib:.1f} GiB of VRAM; each of the 2 processes {sharded.ram_gib:.1f} GiB "
            f"of RAM, {2 * sharded.ram_gib:.1f} GiB in all") in needs
    dialog.shard_weights.setChecked(False)
    dialog.defaults.offload.setCurrentText("model_offload")
    assert f"each of the 2 processes {preset_needs('model_offload').ram_gib:.1f} GiB" in dialog.gpu_needs.text()
    dialog.gpus_per_shot.setValue(1)
    assert not dialog.parallel_mode.isEnabled() and not dialog.shard_weights.isEnabled()  # nothing to split

    monkeypatch.setattr(multi_gpu, "NVIDIA_PROC", tmp_path / "none")  # a machine without NVIDIA's driver
    monkeypatch.setattr("shutil.which", lambda name: None)
    bare = SettingsDialog(AppSettings())
    qtbot.addWidget(bare)
    assert bare.gpu_list.text() == "none" and not bare.gpus_per_shot.isEnabled()
    assert "No NVIDIA GPU found" in bare.gpu_note.text()


def test_gpus_per_shot_above_what_the_machine_has_is_refused_before_anything_starts(gen_window, recorded_dialogs,
                                                                                   monkeypatch):
    monkeypatch.delenv(multi_gpu.CPU_TEST_ENV, raising=False)
    monkeypatch.setattr(multi_gpu, "NVIDIA_PROC", Path("/nonexistent"))
    monkeypatch.setattr("shutil.which", lambda name: None)
    gen_window.settings.gpus_per_shot = 2
    assert not gen_window.generation.generate_all()
    assert recorded_dialogs.texts("error") == [
        "Settings > GPUs per shot is 2, and this machine has 0 NVIDIA GPUs it may use: open Settings > GPUs and "
        "press OK: it shows 1 there, and saves it."]
    assert gen_window.generation.worker is None or not gen_window.generation.worker.worker.engine.alive

    monkeypatch.setenv(multi_gpu.CPU_TEST_ENV, "1")
    set_render(gen_window, offload="sequential")
    assert not gen_window.generation.generate_all()
    assert "preset is 'sequential', which cannot be split across GPUs" in recorded_dialogs.texts("error")[-1]
    gen_window.settings.shard_weights = True  # sharded experts stay on the GPUs: the project's preset is replaced
    set_render(gen_window, offload="sequential", profile="draft")
    assert not gen_window.generation.generate_all()
    assert "Draft shots cannot run with the experts' weights sharded" in recorded_dialogs.texts("error")[-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the rank processes in /proc")
def test_a_queue_on_two_gpus_and_a_rank_that_dies_fails_the_shot_with_the_reason(gen_window, qtbot,
                                                                                 recorded_dialogs, monkeypatch):
    monkeypatch.setenv(multi_gpu.CPU_TEST_ENV, "1")  # 2 CPU ranks on gloo stand in for 2 GPUs
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    win = gen_window
    shots = win.project.story.shots
    win.settings.gpus_per_shot, win.settings.shard_weights = 2, True
    win.edits.select_shots([shots[0].id])
    assert win.generation.generate_shot()
    assert "split across 2 GPUs (Ulysses) with their weights sharded" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert recorded_dialogs.texts("error") == [] and statuses(win)[0] == "done"
    from storyboard.preview_panel import take_details

    assert ("GPUs", "2 (ulysses, weights sharded)") in take_details(shots[0].accepted())
    engine = win.generation.worker.worker.engine

    set_render(win, steps=400)
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: "generating" in win.model.live_status.values(), timeout=WAIT_MS)
    ranks = ranks_of(engine.pid, "storymem_engine.group_rank")
    assert set(ranks) == {0, 1}
    os.kill(ranks[1], signal.SIGKILL)
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    errors = recorded_dialogs.texts("error")
    assert len(errors) == 1 and "The 2-GPU engine stopped: rank 1 of the 2 ranks was killed (signal 9)" in errors[0]
    assert statuses(win) == ["failed", "empty", "empty"]
    assert len(shots[0].takes) == 1  # the earlier take is kept
    assert not [pid for pid in ranks.values() if Path(f"/proc/{pid}").exists()]  # every rank ended

    win.actions_by_name["unload_models"].trigger()
    qtbot.waitUntil(lambda: not engine.alive, timeout=WAIT_MS)
