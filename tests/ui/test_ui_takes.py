"""Takes in the preview panel: deleting (undo/redo, accepted fallback, downstream memory) and the
request each take was made from."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from ui_helpers import add_take, statuses, write_clip

from storyboard.memory import memory_for
from storymem_engine.request import GenerationRequest
from storymem_engine.story import Take
from storymem_engine.tiny import TINY_LABEL

WAIT_MS = 60_000


def take_ids(panel) -> list[str]:
    return [panel.takes.item(r).data(Qt.ItemDataRole.UserRole) for r in range(panel.takes.count())]


def menu_action(menu, text: str):
    return next(a for a in menu.actions() if a.text() == text)


def extra_take(project, shot, take_id: str, seed: int, status: str = "done", mode: str = "m2v") -> Take:
    """A take with a request like the director records (and a real clip unless it failed)."""
    rel = f"takes/{shot.id}/{take_id}/clip.mp4"
    if status == "done":
        write_clip(project.folder / rel, 9)
    memory = [] if mode == "t2v" else ["t:0", "t:1"]
    request = GenerationRequest(shot_id=shot.id, prompt=shot.prompt, mode=mode, seed=seed, width=64, height=48,
                                num_frames=9, steps=2, guidance=3.5, memory=[f"{k}.png" for k in memory],
                                memory_keys=memory, engine="tiny").to_dict()
    take = Take(id=take_id, request=request, clip=rel if status == "done" else "", frames=9, status=status,
                created="2026-01-02T03:04:05+00:00", engine=TINY_LABEL)
    shot.add_take(take)
    return take


def test_deleting_a_take_says_when_the_earlier_take_now_accepted_is_stale(window, recorded_dialogs, tmp_path):
    recorded_dialogs.paths.append(str(tmp_path / "p"))
    assert window.files.save_as()
    project = window.project
    story = project.story
    add_take(project, 0, keyframes=2)
    shot = story.shots[1]
    extra_take(project, shot, "old", seed=3)  # made from memory shot 1 no longer gives
    current = extra_take(project, shot, "new", seed=4)
    current.request["memory_keys"] = [k.key for k in memory_for(story, 1)]
    shot.accepted_take = "new"
    window.model.refresh_all()
    assert statuses(window)[1] == "done"
    window.edits.delete_take(shot.id, "new")
    assert statuses(window)[1] == "stale"
    assert window.statusBar().currentMessage() == (
        "Deleted take 2 of shot 2; the newest take left, take 1, is accepted now (Edit > Undo brings it back). "
        "Take 1 is stale: it was made before the shot's memory or settings last changed.")


def test_delete_take_undo_redo_and_accepted_fallback(window, recorded_dialogs, tmp_path, qtbot):
    recorded_dialogs.paths.append(str(tmp_path / "p"))
    assert window.files.save_as()
    project = window.project
    story = project.story
    add_take(project, 0, keyframes=2)  # "take0", accepted
    shot0 = story.shots[0]
    newer = extra_take(project, shot0, "newer", seed=7, mode="t2v")
    shot0.accepted_take = "newer"
    extra_take(project, shot0, "broken", seed=8, status="failed", mode="t2v")
    add_take(project, 1, keyframes=2)  # shot 2 remembers the keyframes of shot 1's accepted take ("newer": none)
    story.shots[1].accepted().request["memory_keys"] = [k.key for k in memory_for(story, 1)]
    window.model.refresh_all()
    window.edits.select_shots([shot0.id])
    panel = window.preview
    assert statuses(window)[:2] == ["done", "done"]
    assert take_ids(panel) == ["take0", "newer", "broken"]
    assert panel.current_take().id == "newer" and panel.takes.currentItem().text().startswith("★")

    # Delete the accepted take with the button: the newest remaining *finished* take is accepted
    # (not the failed one); its files stay in the project folder.
    panel.delete_button.click()
    assert [t.id for t in shot0.takes] == ["take0", "broken"] and shot0.accepted_take == "take0"
    assert take_ids(panel) == ["take0", "broken"] and panel.current_take().id == "take0"
    assert (project.folder / newer.clip).is_file()
    assert window.isWindowModified() and window.undo_stack.undoText() == "Delete take 2 of shot 1"
    assert window.statusBar().currentMessage() == (  # the numbers the takes list shows
        "Deleted take 2 of shot 1; the newest take left, take 1, is accepted now (Edit > Undo brings it back). "
        "Shot 2 turned stale: made from the deleted take.")
    # Shot 1's memory is now take0's keyframes: shot 2, made from other memory, is stale.
    assert statuses(window)[:2] == ["done", "stale"]

    window.undo_stack.undo()
    assert [t.id for t in shot0.takes] == ["take0", "newer", "broken"] and shot0.accepted_take == "newer"
    assert take_ids(panel) == ["take0", "newer", "broken"] and panel.current_take().id == "newer"
    assert statuses(window)[:2] == ["done", "done"]
    window.undo_stack.redo()
    assert [t.id for t in shot0.takes] == ["take0", "broken"] and shot0.accepted_take == "take0"

    # Del on the takes list removes the selected take; the last finished one gone leaves no accepted take.
    window.show()
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window)
    panel.takes.setFocus()
    panel.takes.setCurrentRow(0)
    QTest.keyClick(panel.takes, Qt.Key.Key_Delete)
    assert [t.id for t in shot0.takes] == ["broken"] and shot0.accepted_take is None
    assert statuses(window)[0] == "failed"
    # ... and the context menu deletes too (a failed take has nothing to accept).
    panel.takes.setCurrentRow(0)
    menu = panel.context_menu()
    assert not menu_action(menu, "Accept take").isEnabled()
    menu_action(menu, "Delete take").trigger()
    assert shot0.takes == [] and panel.takes.count() == 0 and not panel.delete_button.isEnabled()
    assert statuses(window)[0] == "empty"

    # Saved without the deleted takes; three undos bring all of them back, accepted as before.
    assert window.files.save()
    saved = json.loads((window.project_path / "project.json").read_text())["story"]["shots"][0]
    assert saved["takes"] == [] and saved["accepted_take"] is None
    for _ in range(3):
        window.undo_stack.undo()
    assert [t.id for t in shot0.takes] == ["take0", "newer", "broken"] and shot0.accepted_take == "newer"
    assert window.isWindowModified()
    window.undo_stack.setClean()


def test_a_take_keeps_its_number_when_an_earlier_one_is_deleted(window, recorded_dialogs, tmp_path):
    recorded_dialogs.paths.append(str(tmp_path / "p"))
    assert window.files.save_as()
    project = window.project
    add_take(project, 0, keyframes=2)  # "take0", accepted
    shot0 = project.story.shots[0]
    extra_take(project, shot0, "newer", seed=7, mode="t2v")
    shot0.accepted_take = "take0"
    window.model.refresh_all()
    window.edits.delete_take(shot0.id, "take0")
    assert shot0.accepted_take == "newer"
    # Take 2 stays take 2 (it was renumbered 1: "deleted take 1; take 1 is accepted" read as a contradiction).
    assert window.statusBar().currentMessage() == (
        "Deleted take 1 of shot 1; the newest take left, take 2, is accepted now (Edit > Undo brings it back).")
    window.edits.select_shots([shot0.id])
    assert window.preview.takes.item(0).text().split("·")[0].strip(" ★") == "Take 2"
    assert window.preview.details.text().startswith("Take 2: ")
    extra_take(project, shot0, "newest", seed=9, mode="t2v")  # a deleted take's number is not given again
    window.undo_stack.undo()
    assert [(t.id, t.number) for t in shot0.takes] == [("take0", 1), ("newer", 2), ("newest", 3)]
    assert window.files.save()
    from storymem_engine.project import load_project

    again = load_project(window.project_path).story.shots[0]
    assert [t.number for t in again.takes] == [1, 2, 3] and again.last_take_number == 3


def test_take_details_show_the_request(window, recorded_dialogs, tmp_path):
    recorded_dialogs.paths.append(str(tmp_path / "p"))
    assert window.files.save_as()
    project = window.project
    shot = project.story.shots[1]
    extra_take(project, shot, "first", seed=7)
    extra_take(project, shot, "second", seed=11)
    shot.accepted_take = "first"
    window.model.refresh_all()
    window.edits.select_shots([shot.id])
    panel = window.preview
    details = panel.details.text()
    for part in ("Take 1", "mode M2V", "seed 7", "size 64×48", "frames 9", "steps 2", "guidance 3.5",
                 "memory 2 keyframes", f"engine {TINY_LABEL}", "created 2026-01-0"):
        assert part in details, part
    tip = panel.takes.item(1).toolTip()
    assert tip.startswith("Take 2\n") and "seed: 11" in tip and f"prompt: {shot.prompt[:20]}" in tip
    assert "(accepted)" in panel.takes.item(0).toolTip()
    assert "M2V" in panel.takes.item(1).text() and "seed 11" in panel.takes.item(1).text()
    # Selecting another take shows its request; Accept is only offered for a take that is not accepted yet.
    assert not panel.accept_button.isEnabled()
    panel.takes.setCurrentRow(1)
    assert "seed 11" in panel.details.text() and panel.accept_button.isEnabled()
    panel.takes.itemActivated.emit(panel.takes.item(1))  # double-click / Enter accepts
    assert shot.accepted_take == "second"
    window.undo_stack.setClean()


def test_generated_takes_show_their_request_and_delete_falls_back(gen_window, qtbot, recorded_dialogs):
    win = gen_window
    shot = win.project.story.shots[0]
    win.edits.select_shots([shot.id])
    for _ in range(2):
        assert win.generation.generate_shot()
        qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert recorded_dialogs.texts("error") == []
    first, second = shot.takes
    panel = win.preview
    assert shot.accepted_take == second.id and panel.current_take() is second
    details = panel.details.text()
    # The second take drew its own seed (regenerating varies).
    for part in ("mode T2V", f"seed {second.request['seed']} (drawn for this take)", "size 64×48", "frames 9",
                 "steps 2", "guidance 3.5", "memory 0 keyframes", f"engine {TINY_LABEL}", "created "):
        assert part in details, part

    panel.delete_button.click()
    assert shot.takes == [first] and shot.accepted_take == first.id and panel.current_take() is first
    assert (win.project.folder / second.clip).is_file()  # files stay, so undo works
    win.undo_stack.undo()
    assert shot.takes == [first, second] and shot.accepted_take == second.id

    # An older take whose clip is damaged or gone cannot be accepted (its card would only say DAMAGED or MISSING).
    (win.project.folder / first.clip).write_bytes(b"written over" * 40)
    panel.takes.setCurrentRow(0)
    qtbot.waitUntil(lambda: "DAMAGED clip" in panel.takes.item(0).text(), timeout=10_000)
    assert not panel.accept_button.isEnabled()
    panel.takes.itemActivated.emit(panel.takes.item(0))  # Enter or a double-click on the line
    assert shot.accepted_take == second.id
    (win.project.folder / first.clip).unlink()
    panel.set_shot(win.project, shot)
    panel.takes.setCurrentRow(0)
    assert "MISSING clip" in panel.takes.item(0).text() and not panel.accept_button.isEnabled()
    win.undo_stack.setClean()


def test_take_details_name_mr2v_and_cast_images_and_why_no_keyframes(qapp):
    """An MR2V first shot read "mode M2V · memory 8 keyframes" where all 8 were cast images."""
    from storyboard.preview_panel import take_details
    from storymem_engine.story import Take

    mr2v = Take(id="t", clip="c.mp4", request={"mode": "m2v", "memory_keys": ["ref:m:1", "ref:m:2"]},
                keyframes_note="no frame passed the hpsv3 quality gate (threshold 3)")
    rows = dict(take_details(mr2v))
    assert rows["mode"] == "MR2V" and rows["memory"] == "2 cast images"
    assert rows["keyframes"] == "none added: no frame passed the hpsv3 quality gate (threshold 3)"
    mixed = Take(id="u", clip="c.mp4", request={"mode": "m2v", "memory_keys": ["ref:m:1", "t:0", "t:1"]},
                 keyframes=["k.png"])
    rows = dict(take_details(mixed))
    assert rows["mode"] == "M2V" and rows["memory"] == "2 keyframes, 1 cast image" and "keyframes" not in rows


def test_accepting_a_take_says_what_it_did_and_which_later_shots_it_made_stale(gen_window, qtbot, recorded_dialogs):
    """Enter on an older take turned shots 3-6 yellow with nothing on the status bar."""
    win = gen_window
    first = win.project.story.shots[0]
    win.edits.select_shots([first.id])
    for start in (win.generation.generate_from_here, win.generation.generate_shot):  # then shot 1 again
        assert start()
        qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert recorded_dialogs.texts("error") == [] and len(first.takes) == 2
    panel = win.preview
    panel.takes.setCurrentRow(0)
    panel.takes.itemActivated.emit(panel.takes.item(0))  # back to take 1: shots 2-3 were made from it
    assert first.accepted_take == first.takes[0].id
    assert win.statusBar().currentMessage() == "Accepted take 1 of shot 1 (Edit > Undo puts take 2 back)"
    panel.takes.setCurrentRow(1)
    panel.accept_button.click()
    assert win.statusBar().currentMessage() == (
        "Accepted take 2 of shot 1 (Edit > Undo puts take 1 back); shots 2–3 are stale now (made from the take "
        "accepted before): Generate > Regenerate stale shots")
    assert statuses(win)[1:] == ["stale", "stale"]
    win.undo_stack.setClean()
