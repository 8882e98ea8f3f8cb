"""A render run in a terminal on the open project: Save keeps its takes, and waits while it writes."""

from __future__ import annotations

from ui_helpers import add_take

from storyboard.timeline_model import ShotRole
from storymem_engine.project import PROJECT_FILE, acquire_writer_lock, load_project


def _saved(window, recorded_dialogs, tmp_path):
    recorded_dialogs.paths.append(str(tmp_path / "film.storymem"))
    assert window.files.save_as()
    return window.project_path


def test_save_keeps_the_takes_a_render_recorded_meanwhile(window, recorded_dialogs, tmp_path):
    folder = _saved(window, recorded_dialogs, tmp_path)
    add_take(window.project, 0)  # the editor's own take, saved, then deleted in the editor
    assert window.files.save()
    shots = window.project.story.shots
    window.edits.delete_take(shots[0].id, "take0")

    render = load_project(folder)  # what `main.py render` does with each take it makes: its project, saved
    add_take(render, 1)
    render.save()

    window.edits.edit_field(shots[2].id, "prompt", "A storm rolls in over the lighthouse.")
    assert window.files.save()
    assert window.statusBar().currentMessage() == (
        f"Saved {folder / PROJECT_FILE}; added 1 take a render recorded in project.json meanwhile (shot 2)")
    assert [t.id for t in shots[1].takes] == ["take1"] and shots[1].accepted_take == "take1"
    assert window.preview.takes.count() == 0  # shot 1 is shown: it has no take now
    window.edits.select_shots([shots[1].id])
    assert window.preview.takes.count() == 1

    on_disk = load_project(folder).story.shots
    assert on_disk[2].prompt == "A storm rolls in over the lighthouse."  # the user's edit
    assert [t.id for t in on_disk[1].takes] == ["take1"] and on_disk[1].accepted_take == "take1"  # the render's
    assert on_disk[0].takes == []  # deleted in the editor: not brought back
    assert window.files.save() and window.statusBar().currentMessage() == f"Saved {folder / PROJECT_FILE}"


def test_save_waits_while_a_render_writes_into_the_project(window, recorded_dialogs, tmp_path):
    folder = _saved(window, recorded_dialogs, tmp_path)
    before = (folder / PROJECT_FILE).read_bytes()
    window.edits.edit_field(window.project.story.shots[0].id, "prompt", "changed while the render runs")
    lock = acquire_writer_lock(folder)  # the render's
    try:
        assert not window.files.save()
    finally:
        lock.release()
    kind, title, text = recorded_dialogs.messages[-1]
    assert (kind, title) == ("error", "A render is writing this project")
    assert "its next take would write over this save" in text and "your changes stay here" in text
    assert (folder / PROJECT_FILE).read_bytes() == before and window.isWindowModified()
    assert window.files.save()  # the render is done
    assert load_project(folder).story.shots[0].prompt == "changed while the render runs"


def test_coming_back_to_the_window_lists_the_takes_a_render_recorded(window, recorded_dialogs, tmp_path, qtbot):
    from ui_helpers import show_active

    folder = _saved(window, recorded_dialogs, tmp_path)
    assert not window.files.look_for_outside_takes()  # nothing new since the save
    render = load_project(folder)
    add_take(render, 4)
    render.save()
    show_active(window, qtbot)  # the user comes back from the terminal
    shot = window.project.story.shots[4]
    assert shot.accepted_take == "take4" and window.model.index(4).data(ShotRole.STATUS) == "done"
    assert window.statusBar().currentMessage() == (
        "Added 1 take a render recorded in project.json meanwhile (shot 5).")
    assert not window.isWindowModified()  # project.json already holds it
    assert not window.files.look_for_outside_takes()  # one stat, nothing new


def test_a_render_takes_appear_while_the_window_stays_in_front(window, recorded_dialogs, tmp_path, qtbot):
    """The project's folder is watched: each take a render records fills its card as it lands."""
    folder = _saved(window, recorded_dialogs, tmp_path)
    for row in (4, 5):
        render = load_project(folder)
        add_take(render, row)
        render.save()
        qtbot.waitUntil(lambda row=row: window.project.story.shots[row].accepted_take == f"take{row}", timeout=5000)
    # Shot 5's take is current; shot 6's is stale at once (made without shot 5's keyframes): the cards say so.
    assert [window.model.index(r).data(ShotRole.STATUS) for r in (4, 5)] == ["done", "stale"]
    assert window.statusBar().currentMessage() == "Added 1 take a render recorded in project.json meanwhile (shot 6)."
    assert not window.isWindowModified()
