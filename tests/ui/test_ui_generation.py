"""Generation from the UI on the tiny engine: the worker thread, takes, memory, cancel, errors, closing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ui_helpers import set_render, statuses

from storyboard.timeline_model import ShotRole
from storymem_engine.tiny import TINY_LABEL

WAIT_MS = 60_000


def take_dirs(win) -> list[Path]:
    return sorted(p for p in win.project.takes_dir.glob("*/*") if p.is_dir()) if win.project.takes_dir.exists() else []


def test_generate_all_then_regenerate_marks_downstream_stale(gen_window, qtbot, recorded_dialogs):
    win = gen_window
    shots = win.project.story.shots
    assert win.generation.generate_all()
    assert win.project_path is not None and (win.project_path / "project.json").is_file()
    assert win.actions_by_name["generate_cancel"].isEnabled()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert recorded_dialogs.texts("error") == []
    assert all(s.accepted() is not None for s in shots)
    assert all(s.accepted().engine == TINY_LABEL for s in shots)
    assert statuses(win) == ["done", "done", "done"]
    assert win.actions_by_name["generate_shot"].isEnabled() and not win.actions_by_name["generate_cancel"].isEnabled()

    # The last shot's memory strip shows keyframes of the two shots before it; the take list says "tiny".
    win.edits.select_shots([shots[2].id])
    assert win.memory_strip.keyframes and all(k.startswith("takes/") for k in win.memory_strip.keyframes)
    assert TINY_LABEL in win.preview.takes.item(0).text()
    qtbot.waitUntil(lambda: win.model._thumbnail(shots[2]) is not None, timeout=10_000)

    # Regenerate the first shot: a second take, accepted; later shots saw other memory -> stale.
    win.edits.select_shots([shots[0].id])
    first_take = shots[0].accepted_take
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert len(shots[0].takes) == 2 and shots[0].accepted_take != first_take
    assert statuses(win) == ["done", "stale", "stale"]
    from PySide6.QtCore import Qt

    assert "shot 1 has a new accepted take" in " ".join(win.model.index(1).data(Qt.ItemDataRole.ToolTipRole).split())
    # Said when it ends, not only in a card's tooltip: the new take was accepted and what it left stale.
    assert win.statusBar().currentMessage().endswith("(1 new take, accepted; shots 2–3 are stale now: Generate > "
                                                     "Regenerate stale shots)")

    # Regenerate stale: shot 1 is up to date (skipped), shots 2 and 3 get new takes.
    assert win.generation.generate_stale()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert [len(s.takes) for s in shots] == [2, 2, 2]
    assert statuses(win) == ["done", "done", "done"]

    # A clip emptied on disk shows MISSING, and Regenerate stale makes that shot again (it said "Nothing to generate").
    (win.project.folder / shots[2].accepted().clip).write_bytes(b"")
    win.model.refresh_all()
    assert statuses(win) == ["done", "done", "missing"]
    assert win.generation.generate_stale()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert [len(s.takes) for s in shots] == [2, 2, 3] and statuses(win) == ["done", "done", "done"]

    # A clip written over (there, not empty, not a video) is DAMAGED once its card tried to show it, with the
    # decoder's reason; Regenerate stale makes it again (the card said DONE and the film export failed).
    (win.project.folder / shots[1].accepted().clip).write_bytes(b"not a video" * 100)
    win.model.index(1).data(ShotRole.THUMBNAIL)  # what painting the card asks
    qtbot.waitUntil(lambda: statuses(win) == ["done", "damaged", "done"], timeout=10_000)
    assert ("Damaged: the accepted take's clip" in win.model.index(1).data(Qt.ItemDataRole.ToolTipRole)
            and "(Invalid data found when processing input)" in win.model.index(1).data(Qt.ItemDataRole.ToolTipRole))
    assert win.generation.generate_stale()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert [len(s.takes) for s in shots] == [2, 3, 4] and statuses(win) == ["done", "done", "done"]


def generate_one(win, qtbot, row: int) -> None:
    """Select shot ``row`` and generate it, as Generate shot on the toolbar; wait until the worker is done."""
    win.edits.select_shots([win.project.story.shots[row].id])
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)


def test_a_keyframe_that_does_not_decode_names_the_shot_to_make_again(gen_window, qtbot, recorded_dialogs):
    win = gen_window
    shots = win.project.story.shots
    generate_one(win, qtbot, 0)
    keyframe = shots[0].accepted().keyframes[0]
    path = win.project.folder / keyframe
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a copy cut off in the middle

    # Shot 2's memory strip says so (it said "missing" for a file that is there), and generating shot 2 names
    # the shot that made the keyframe (it said "cannot read image /home/...: image file is truncated").
    win.edits.select_shots([shots[1].id])
    item = win.memory_strip.items()[0]
    qtbot.waitUntil(lambda: "cannot be read (damaged or cut off): generate its shot again" in item.toolTip(),
                    timeout=10_000)
    generate_one(win, qtbot, 1)
    assert (f"{keyframe}, made by shot 1, cannot be read (image file is truncated): generate shot 1 again "
            "(Generate from here on it), or exclude this keyframe in the memory strip"
            ) in recorded_dialogs.texts("error")[-1]
    assert shots[1].takes == []  # nothing half-made

    # Doing what it says works: shot 1 again, then shot 2.
    win.edits.select_shots([shots[0].id])
    assert win.generation.generate_from_here()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert len(recorded_dialogs.texts("error")) == 1 and statuses(win) == ["done", "done", "done"]


def test_cancel_mid_shot_leaves_no_half_take(gen_window, qtbot):
    win = gen_window
    set_render(win, steps=200)  # long enough that the cancel lands between two denoising steps
    steps: list[tuple[int, int]] = []
    assert win.generation.generate_all()
    win.generation.worker.worker.progress.connect(lambda _id, step, total, *_: steps.append((step, total)))
    qtbot.waitUntil(lambda: any(step >= 2 for step, _ in steps), timeout=WAIT_MS)
    fraction, text = win.model.index(0).data(ShotRole.PROGRESS)  # the card shows the step and ETA
    assert 0 < fraction < 1 and "/200" in text and "ETA" in text
    win.generation.cancel()
    assert "Cancelling" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    shots = win.project.story.shots
    # The running shot stopped mid-denoising: it never reached its last step and left nothing behind.
    assert max(step for step, _ in steps) < 200
    assert sum(len(s.takes) for s in shots) == 0 and take_dirs(win) == []
    assert win.model.live_status == {}
    win.edits.add_shot()  # the UI still edits normally
    assert len(win.project.story.shots) == 4


def test_engine_error_shows_message_logs_and_keeps_earlier_takes(gen_window, qtbot, recorded_dialogs):
    win = gen_window
    shots = win.project.story.shots
    generate_one(win, qtbot, 0)
    kept = shots[0].accepted_take
    assert kept is not None

    # Shot 2 asks for 1 frame (a project.json edited by hand): the engine refuses with a message.
    shots[1].frames = 1
    win.edits.select_shots([shots[1].id])
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    errors = recorded_dialogs.texts("error")
    assert len(errors) == 1 and "shot 2: frames must be 4n+1 and at least 5 (e.g. 17, 49, 81), got 1" in errors[0]
    assert "ValueError" not in errors[0]
    assert statuses(win)[1] == "failed"
    assert shots[0].accepted_take == kept and shots[1].takes == []
    from storyboard.generation_controller import LOG_FILE, log_folder

    assert "frames must be 4n+1" in (log_folder() / LOG_FILE).read_text()


def test_wan_with_missing_models_lists_them_and_offers_tiny(gen_window, qtbot, recorded_dialogs, tmp_path):
    win = gen_window
    (tmp_path / "no-models").mkdir()
    win.settings.engine, win.settings.models_folder = "wan", str(tmp_path / "no-models")
    recorded_dialogs.choices.append(None)  # Cancel
    assert not win.generation.generate_all()
    assert "tiny engine" in recorded_dialogs.questions[-1] and "incomplete" in recorded_dialogs.questions[-1]
    assert "model_index.json" in recorded_dialogs.questions[-1]
    assert not win.generation.busy

    recorded_dialogs.choices.append("tiny")  # take the offer: this run uses the tiny engine
    win.edits.select_shots([win.project.story.shots[0].id])
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert win.project.story.shots[0].accepted().engine == TINY_LABEL


def test_close_while_generating_cancels_and_joins(gen_window, qtbot, recorded_dialogs):
    win = gen_window
    win.show()
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: "generating" in win.model.live_status.values(), timeout=WAIT_MS)
    thread = win.generation.worker.thread
    recorded_dialogs.choices.append(None)  # Keep generating
    assert not win.close()
    assert win.generation.busy
    recorded_dialogs.choices.append("stop")  # Stop generating and close
    started = time.monotonic()
    assert not win.close()  # said yes: returns at once, the UI keeps running while the engine stops
    assert time.monotonic() - started < 1.0
    assert "closes when the engine has stopped" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=WAIT_MS)  # then it closes by itself
    assert thread.isFinished() and win.generation.worker is None
    assert "A generation is running" in recorded_dialogs.questions[-1]


def test_a_stopped_engine_is_noticed_and_cancel_ends_it(gen_window, qtbot, recorded_dialogs):
    """SIGSTOP (as a hung driver would): Cancel ends the silent process within seconds, the shot says why, and
    without a Cancel the missing heartbeat ends it too."""
    import os
    import signal

    win = gen_window
    set_render(win, steps=400)
    assert win.generation.generate_all()
    engine = win.generation.worker.worker.engine
    qtbot.waitUntil(lambda: "generating" in win.model.live_status.values(), timeout=WAIT_MS)
    os.kill(engine.pid, signal.SIGSTOP)
    started = time.monotonic()
    win.generation.cancel()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=20_000)
    assert time.monotonic() - started < engine.cancel_silence_s + 5
    assert "stopped answering" in recorded_dialogs.texts("error")[-1] and "after Cancel" in \
        recorded_dialogs.texts("error")[-1]
    assert win.project.story.shots[0].takes == []

    engine.silence_s = 3.0  # (30 s in the app) no Cancel this time: the silence alone ends it
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: "generating" in win.model.live_status.values(), timeout=WAIT_MS)
    os.kill(engine.pid, signal.SIGSTOP)
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=20_000)
    assert "stopped answering" in recorded_dialogs.texts("error")[-1]
    assert statuses(win)[0] == "failed"


def test_a_continuing_shot_moved_behind_another_shot_is_stale(gen_window, qtbot):
    """Shot 3 continued shot 2's last frame (MI2V); moved right after shot 1 it would start from another frame."""
    from PySide6.QtCore import Qt

    from storyboard.memory import continuation_changed

    win = gen_window
    shots = list(win.project.story.shots)
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert shots[2].accepted().request["mode"] == "mi2v"
    win.edits.move([shots[2].id], 1)
    story = win.project.story
    assert continuation_changed(story, 1) and statuses(win)[1] == "stale"
    tip = " ".join(win.model.index(1).data(Qt.ItemDataRole.ToolTipRole).split())
    assert "stale" in tip.lower()
    win.undo_stack.undo()
    assert not continuation_changed(win.project.story, 2) and statuses(win) == ["done", "done", "done"]


def test_reorder_after_generation_marks_moved_memory_stale(gen_window, qtbot):
    win = gen_window
    shots = list(win.project.story.shots)
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert statuses(win) == ["done", "done", "done"]
    # Shot 1 moves to the end: the shots now before it differ from what its take was conditioned on.
    win.edits.move([shots[0].id], 3)
    assert [s.id for s in win.project.story.shots] == [shots[1].id, shots[2].id, shots[0].id]
    assert "stale" in statuses(win)
    from PySide6.QtCore import Qt

    # The old shot 2 now opens the film: the keyframes it remembered belong to a shot that moved after it.
    assert statuses(win)[0] == "stale"
    assert "shot 3 moved after it" in " ".join(win.model.index(0).data(Qt.ItemDataRole.ToolTipRole).split())
    win.undo_stack.undo()
    assert statuses(win) == ["done", "done", "done"]


def test_saving_while_a_shot_renders_is_never_overwritten(gen_window, qtbot):
    from storymem_engine.project import load_project

    win = gen_window
    shots = win.project.story.shots
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: "generating" in win.model.live_status.values(), timeout=WAIT_MS)
    win.edits.edit_field(shots[2].id, "prompt", "saved while rendering")
    assert win.files.save()
    win.edits.edit_field(shots[1].id, "prompt", "not saved yet")
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)

    saved = load_project(win.project_path).story
    assert saved.shots[2].prompt == "saved while rendering"  # the worker's older snapshot did not win
    assert saved.shots[1].prompt == "waves hit the rocks"  # unsaved edits stay the user's to save
    assert [s.accepted_take for s in saved.shots] == [s.accepted_take for s in shots]  # every take recorded
    assert all(s.accepted_take for s in saved.shots)
    assert win.files.is_modified() and shots[1].prompt == "not saved yet"
    # A take of this editor's Generate, deleted here, is not one "a render recorded meanwhile": a Save drops it.
    win.edits.delete_take(shots[0].id, shots[0].accepted_take)
    assert win.files.save() and "added" not in win.statusBar().currentMessage()
    assert load_project(win.project_path).story.shots[0].takes == []


def test_failed_shot_stops_the_queue_or_goes_on_as_chosen(gen_window, qtbot, recorded_dialogs):
    win = gen_window
    shots = win.project.story.shots
    shots[2].cut = True  # a new scene: its memory comes from shot 1, so it can run without shot 2
    shots[1].frames = 10  # not 4n+1: this shot fails with the engine's message
    win.model.refresh_all()

    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert statuses(win) == ["done", "failed", "empty"]  # stopped at the failure (the default)
    assert "frames" in recorded_dialogs.texts("error")[0]

    win.settings.continue_after_failure = True
    win.edits.select_shots([shots[1].id, shots[2].id])
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert statuses(win) == ["done", "failed", "done"]
    assert len(recorded_dialogs.texts("error")) == 2


def test_models_stay_loaded_between_queues_until_unloaded(gen_window, qtbot, recorded_dialogs):
    win = gen_window
    shots = win.project.story.shots
    win.edits.select_shots([shots[0].id])
    assert win.generation.generate_shot()

    def card_text() -> str:
        return win.model.live_progress.get(shots[0].id, (0.0, ""))[1]

    # The first shot's card says why it sits at step 0 (the tiny models load for a second or more).
    qtbot.waitUntil(lambda: card_text().startswith("loading models"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    engine = win.generation.worker.worker.engine
    pid = engine.pid
    assert pid is not None and not win.generation.engine_reused
    phases: list[str] = []
    win.generation.worker.worker.progress.connect(lambda _id, _step, _total, phase, *_: phases.append(phase))
    assert win.generation.generate_shot()  # a second take of the same (T2V) shot
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    # Same settings: the same engine process, with its models already loaded.
    assert engine.pid == pid and win.generation.engine_reused
    assert phases and "loading models" not in phases
    # Quit, then Cancel at the save question: nothing changes, the models stay loaded.
    win.edits.edit_field(shots[2].id, "notes", "unsaved note")
    recorded_dialogs.save_discard_cancel.append("cancel")
    assert not win.close()
    assert win.generation.worker is not None and engine.pid == pid
    assert "Stopping the engine" not in win.statusBar().currentMessage()
    # The next shot needs the I2V experts: they load, in place of the T2V ones (one pair in memory at a time).
    phases.clear()
    win.edits.select_shots([shots[1].id])
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert engine.pid == pid and "loading models" in phases

    # Editing a generated shot's prompt marks it stale, saying why; undo brings it back.
    from PySide6.QtCore import Qt

    win.edits.edit_field(shots[1].id, "prompt", "waves hit the rocks at night")
    assert statuses(win)[1] == "stale"
    assert "prompt was edited" in " ".join(win.model.index(1).data(Qt.ItemDataRole.ToolTipRole).split())
    win.undo_stack.undo()
    assert statuses(win)[1] == "done"

    win.actions_by_name["unload_models"].trigger()
    qtbot.waitUntil(lambda: win.statusBar().currentMessage() == "Models unloaded.", timeout=WAIT_MS)
    assert not engine.alive  # the engine process ended: its memory is back with the system
    assert not _process_exists(pid)


def _process_exists(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_engine_process_killed_mid_shot_fails_it_and_the_next_generate_works(gen_window, qtbot, recorded_dialogs):
    """What the out-of-memory killer or a CUDA crash does to the engine: the editor and takes survive."""
    import os
    import signal

    win = gen_window
    shots = win.project.story.shots
    set_render(win, steps=200)
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: "generating" in win.model.live_status.values(), timeout=WAIT_MS)
    os.kill(win.generation.worker.worker.engine.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    errors = recorded_dialogs.texts("error")
    assert len(errors) == 1 and "engine process was killed (SIGKILL" in errors[0]
    assert statuses(win) == ["failed", "empty", "empty"]
    assert sum(len(s.takes) for s in shots) == 0

    set_render(win, steps=2)
    win.edits.select_shots([shots[0].id])
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert shots[0].accepted() is not None and statuses(win)[0] == "done"


def test_takes_record_the_seed_rule_and_say_when_keyframes_were_picked_without_clip(gen_window, qtbot,
                                                                                     recorded_dialogs):
    """The app passes the fidelity settings to the engine: the method's CLIP and scene seeds by default; the
    model-free similarity only when chosen, and then the take says so in its list line and details."""
    from storyboard.preview_panel import take_details

    win = gen_window
    shots = win.project.story.shots
    win.edits.select_shots([shots[0].id])
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    take = shots[0].accepted()
    assert take.backends["similarity"] == "clip-vit-b-32"
    assert take.request["seed_rule"] == "scene" and take.request["vae_tiling"] is False
    assert "without CLIP" not in win.preview.takes.item(0).text()

    win.settings.keyframe_similarity = "hsv"
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert recorded_dialogs.texts("error") == []
    take = shots[0].accepted()
    assert take.backends["similarity"] == "hsv-patch"
    assert ("note", "keyframes picked without CLIP (hsv-patch)") in take_details(take)
    assert ("seed", f"{take.request['seed']} (drawn for this take)") in take_details(take)  # a second take
    assert ("seed", "0 (story seed + index in scene)") in take_details(shots[0].takes[0])
    assert any("keyframes picked without CLIP" in win.preview.takes.item(i).text()
               for i in range(win.preview.takes.count()))


def test_wan_engine_without_clip_weights_stops_before_loading_and_says_what_to_do(gen_window, tiny_cache, tmp_path,
                                                                                   recorded_dialogs):
    import shutil

    from storymem_engine.tiny import TINY_VERSION

    models = tmp_path / "models"
    shutil.copytree(tiny_cache / TINY_VERSION, models)
    shutil.rmtree(models / "CLIP-ViT-B-32")
    win = gen_window
    win.settings.engine, win.settings.models_folder = "wan", str(models)
    recorded_dialogs.yes_no.append(False)  # do not switch to the tiny engine
    assert not win.generation.generate_all()
    question = recorded_dialogs.questions[-1]
    assert "CLIP-ViT-B-32/open_clip_config.json" in question
    assert "Only the CLIP weights" in question and "Model-free HSV" in question
    assert win.generation.worker is None  # no engine process was started


def test_generate_while_a_render_writes_into_the_project_says_it_is_busy(gen_window, qtbot, recorded_dialogs):
    from storymem_engine.project import ProjectBusy, writing

    win = gen_window
    assert win.generation.generate_shot()  # the first Generate saves the project (gen.storymem)
    with pytest.raises(ProjectBusy):
        with writing(win.project_path):  # a CLI render started now is refused while the queue runs
            pass
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    with writing(win.project_path):  # as `main.py render --out <this project>` holds it
        assert not win.generation.generate_all()
        assert recorded_dialogs.messages[-1][1] == "A render is writing this project"
        assert "Generate again when it has finished. Nothing was started" in recorded_dialogs.texts("error")[-1]
        assert win.model.live_status == {}
        # With unsaved changes too: Generate's words, not the save's ("save again").
        win.edits.edit_field(win.project.story.shots[1].id, "prompt", "a gull on the rail at night")
        asked = len(recorded_dialogs.messages)
        assert not win.generation.generate_all()
        assert len(recorded_dialogs.messages) == asked + 1
        assert "Generate again when it has finished" in recorded_dialogs.texts("error")[-1]
        assert win.isWindowModified()  # nothing saved while the render writes
    assert win.generation.generate_shot()  # free again
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    with writing(win.project_path):  # the editor let go when its queue ended
        pass


def test_mm2v_continuation_is_a_project_setting_the_shots_follow(gen_window, qtbot, recorded_dialogs):
    """The inspector offers MM2V; it needs the MM2V LoRA, which the project chooses (Generate > Render settings >
    Continuation). Before, the app always loaded the MI2V LoRA, so an MM2V shot failed with 'set the continuation to
    MM2V in Settings', a setting the app did not have."""
    win = gen_window
    shots = win.project.story.shots
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert [s.accepted().request["mode"] for s in shots] == ["t2v", "mi2v", "mi2v"]

    # A shot set to MM2V while the project continues with MI2V: refused before anything loads, naming the fix.
    win.edits.select_shots([shots[2].id])
    win.inspector.mode.setCurrentIndex(win.inspector.mode.findData("mm2v"))
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    error = " ".join(recorded_dialogs.texts("error")[-1].split())
    assert "shot 3 is set to MM2V" in error and "Generate > Render settings > Continuation" in error, error
    assert statuses(win)[2] == "failed" and shots[2].accepted().request["mode"] == "mi2v"

    # The project switched to MM2V: the shot set to MM2V and every 'auto' continuation use the MM2V LoRA.
    set_render(win, continuation="mm2v")
    assert win.inspector.mode.itemText(win.inspector.mode.findData("auto")).endswith("continuation → MM2V)")
    win.inspector.mode.setCurrentIndex(win.inspector.mode.findData("auto"))
    generate_one(win, qtbot, 2)
    take = shots[2].accepted()
    assert (take.request["mode"], take.request["lora_variant"]) == ("mm2v", "mm2v")
    assert take.frames == 9 - 5  # MM2V drops the previous shot's last 5 frames it starts from
    assert win.project.settings.continuation == "mm2v"
    assert '"continuation": "mm2v"' in (win.project.folder / "project.json").read_text()


def test_editing_a_shot_makes_its_take_stale_and_regenerate_stale_redoes_it(gen_window, qtbot, recorded_dialogs):
    """A scene cut toggled, a seed typed, the project's continuation switched: the take no longer is what the shot
    would make. The card said DONE and Regenerate stale answered 'Every shot ... is up to date'."""
    from PySide6.QtCore import Qt

    win = gen_window
    shots = win.project.story.shots
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert statuses(win) == ["done", "done", "done"]

    def tip(row: int) -> str:
        return " ".join(win.model.index(row).data(Qt.ItemDataRole.ToolTipRole).split())

    win.edits.select_shots([shots[2].id])
    win.inspector.cut.setChecked(True)
    assert statuses(win) == ["done", "done", "stale"]
    assert "Stale: the shot changed after this take was made (it is M2V now, the take MI2V)" in tip(2)
    win.undo_stack.undo()
    assert statuses(win) == ["done", "done", "done"]

    win.edits.select_shots([shots[1].id])
    win.inspector.seed.setValue(shots[1].accepted().request["seed"] + 1)
    assert statuses(win)[1] == "stale" and "(its seed)" in tip(1)
    win.undo_stack.undo()

    set_render(win, continuation="mm2v")
    assert statuses(win) == ["done", "stale", "stale"] and "it is MM2V now, the take MI2V" in tip(1)
    assert win.generation.generate_stale()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    # 9 frames in MM2V keep 4: shot 3 cannot continue 5 of them, and says so by number (it said
    # "892e11bbd1ec: MM2V needs the previous shot's last 5 frames").
    error = " ".join(recorded_dialogs.texts("error")[-1].split())
    assert "shot 3 continues the last 5 frames of shot 2 (MM2V), whose take holds 4: generate shot 2 with more " \
           "frames" in error, error
    set_render(win, frames=13)
    generate_one(win, qtbot, 1)  # as the message says: shot 2 again, with more frames
    assert shots[1].accepted().frames == 13 - 5
    assert win.generation.generate_stale()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert [s.accepted().request["mode"] for s in shots] == ["t2v", "mm2v", "mm2v"]
    assert statuses(win) == ["done", "done", "done"]


def test_generating_a_shot_that_continues_one_without_a_take_offers_the_shots_before_it(gen_window, qtbot,
                                                                                       recorded_dialogs):
    win = gen_window
    shots = win.project.story.shots  # shot 1 a cut; 2 and 3 continue
    win.edits.select_shots([shots[2].id])
    # It failed after the models loaded ("shot 3 continues shot 2, which has no accepted take yet"), card FAILED.
    assert not win.generation.generate_shot()  # asked, and declined: nothing starts
    question = " ".join(recorded_dialogs.questions[-1].split())
    assert question.startswith("Shot 3 continues shot 2, which has no take yet, so it cannot start. Generate shots "
                               "1–2 first, in the same queue (3 shots)?")
    assert "make shot 3 a scene cut" in question
    assert not win.generation.busy and statuses(win) == ["empty", "empty", "empty"]

    recorded_dialogs.choices.append("generate")
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert recorded_dialogs.texts("error") == []
    assert statuses(win) == ["done", "done", "done"]
    asked = len(recorded_dialogs.questions)
    assert win.generation.generate_shot()  # shot 2 has a take now: no question
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert len(recorded_dialogs.questions) == asked and len(shots[2].takes) == 2


@pytest.mark.parametrize("gen_prompts", [("a lighthouse at dusk", "", " \n")])
def test_generating_shots_without_a_prompt_asks_first(gen_window, qtbot, recorded_dialogs):
    win = gen_window
    assert not win.generation.generate_all()  # asked, and declined: nothing starts
    assert recorded_dialogs.questions[-1] == ("Shots 2–3 have no prompt: the model would make them from nothing. "
                                              "Write the prompt in the inspector first, or generate anyway?")
    assert not win.generation.busy and statuses(win) == ["empty", "empty", "empty"]
    win.edits.select_shots([win.project.story.shots[0].id])
    assert win.generation.generate_shot()  # a written prompt: no question
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    recorded_dialogs.choices.append("generate")
    win.edits.select_shots([win.project.story.shots[1].id])
    assert win.generation.generate_shot()  # "Generate anyway"
    assert recorded_dialogs.questions[-1].startswith("Shot 2 has no prompt: the model would make it from nothing.")
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert statuses(win)[:2] == ["done", "done"]


def test_generate_says_it_did_not_start_when_the_project_cannot_be_saved(gen_window, recorded_dialogs, monkeypatch):
    import errno

    from storymem_engine import atomic

    win = gen_window
    win.edits.edit_field(win.project.story.shots[0].id, "notes", "unsaved")  # the queue saves first

    def read_only(*_args, **_kwargs):
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    assert not win.generation.generate_all()
    assert recorded_dialogs.kinds() == ["error"] and win.generation.worker is None
    assert win.statusBar().currentMessage() == "Generation not started: the project could not be saved first."


def test_a_shot_deleted_while_queued_comes_back_with_its_take_and_no_stuck_badge(gen_window, qtbot, monkeypatch):
    from storyboard.render_settings_dialog import RenderSettingsDialog
    from storymem_engine.project import load_project

    win = gen_window
    # A queue long enough to still run through the edits below on a fast machine (2 steps ran out in CI).
    set_render(win, steps=24)
    shots = list(win.project.story.shots)
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: win.model.live_status.get(shots[0].id) == "generating", timeout=WAIT_MS)
    win.edits.select_shots([shots[2].id])
    win.edits.delete()
    said = win.statusBar().currentMessage()
    assert "still made by the running queue" in said and "Undo brings the take back" in said
    # Progress comes every step and every second: the user's message stays readable through the next ones.
    before = win.generation._last_progress
    qtbot.waitUntil(lambda: win.generation._last_progress is not before, timeout=WAIT_MS)
    assert win.generation.busy and win.statusBar().currentMessage() == said
    assert win.files.save()

    def more_steps(dialog):
        dialog.form.steps.setValue(3)
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(RenderSettingsDialog, "exec", more_steps)
    win.open_render_settings()
    assert "the running generation keeps the settings it started with" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert "1 take of shots deleted meanwhile: Edit > Undo brings that shot back" in \
        win.statusBar().currentMessage()
    win.undo_stack.undo()  # the render settings
    win.undo_stack.undo()  # the delete
    back = win.project.story.shots[2]
    assert back is shots[2] and back.accepted() is not None  # the take the queue made for it came back too
    assert statuses(win) == ["done", "done", "done"]  # not queued or generating forever
    assert win.files.save()
    assert load_project(win.project_path).story.shots[2].accepted_take == back.accepted_take


def test_another_project_opened_while_generating_shows_none_of_the_queue_on_its_cards(gen_window, qtbot):
    from storymem_engine.project import Project
    from storymem_engine.story import Shot, Story

    win = gen_window
    generating = [s.id for s in win.project.story.shots]
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: "generating" in win.model.live_status.values(), timeout=WAIT_MS)
    # Every imported story numbers its shots alike: the open project's shot-001 is not the queue's.
    other = Story(name="Other", shots=[Shot(id=i, prompt=f"other {n}", cut=n == 0) for n, i in enumerate(generating)])
    win.set_project(Project(folder=Path(), story=other), None)
    seen: set[str] = set()
    win.model.dataChanged.connect(lambda *_: seen.update(win.model.live_status.values()))
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert seen <= {""} and win.model.live_status == {} and win.model.live_progress == {}
    assert all(s.takes == [] for s in win.project.story.shots)


def test_remaking_a_shot_asks_before_its_pinned_keyframes_apply_to_nothing_and_says_where_trims_stay(
        gen_window, qtbot, recorded_dialogs, tmp_path):
    from storyboard.undo_commands import TrimTakeCommand

    win = gen_window
    shots = win.project.story.shots
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    second = shots[1].accepted()
    win.undo_stack.push(TrimTakeCommand(win.model, shots[1].id, second.id, (2, 7), "Set in point"))
    pinned = f"{second.id}:0"
    assert win.edits.set_memory_pinned([pinned], True)

    # Shot 2 made again: its take holds the pin. Cancel: nothing starts, nothing changes.
    win.edits.select_shots([shots[1].id])
    recorded_dialogs.choices.append(None)
    assert not win.generation.generate_shot()
    asked = recorded_dialogs.questions[-1]
    assert asked.startswith("Shot 2 will be made again. Its accepted take holds 1 pinned keyframe of the memory")
    assert "Accepting the earlier take again (Takes list) brings them back" in asked
    assert not win.generation.busy and len(shots[1].takes) == 1

    # Shot 1 alone holds no pin: not asked.
    win.edits.select_shots([shots[0].id])
    questions = len(recorded_dialogs.questions)
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert len(recorded_dialogs.questions) == questions

    # Regenerate stale (shots 2-3 stale now) remakes shot 2: asked; on "Generate anyway" its trim stays on the old take.
    recorded_dialogs.choices.append("generate")
    assert win.generation.generate_stale()
    assert "Shot 2 will be made again" in recorded_dialogs.questions[-1]
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert shots[1].accepted().id != second.id and (second.trim_in, second.trim_out) == (2, 7)
    said = win.statusBar().currentMessage()
    assert "(2 new takes, each accepted; shot 2 plays whole: the trim stays on the earlier take)" in said
