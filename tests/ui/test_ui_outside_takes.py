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


def test_takes_a_render_made_for_a_shot_deleted_here_are_told_once_and_undo_keeps_them(window, recorded_dialogs,
                                                                                       tmp_path, qtbot):
    folder = _saved(window, recorded_dialogs, tmp_path)
    shots = window.project.story.shots
    deleted = shots[2]
    window.edits.select_shots([deleted.id])
    window.edits.delete()  # in the editor, not saved yet, while a render in a terminal goes on
    render = load_project(folder)
    add_take(render, 2)  # the render's take for the shot deleted here
    render.save()

    assert not window.files.look_for_outside_takes()  # nothing added ...
    told = window.statusBar().currentMessage()  # ... but the render's work is not dropped without a word
    assert told.startswith('1 take a render made for a shot deleted here ("Close-up of Mara\'s weathered hands')
    assert "is not in the project: undo the delete before saving to keep it" in told
    assert f"the files stay in takes/{deleted.id}/" in told
    window.undo_stack.undo()  # the shot comes back; the save then keeps its take
    assert window.files.save()
    assert window.statusBar().currentMessage() == (
        f"Saved {folder / PROJECT_FILE}; added 1 take a render recorded in project.json meanwhile (shot 3)")
    assert load_project(folder).story.shots[2].accepted_take == "take2"

    # Deleted again and saved straight away: the save says what it leaves out, once.
    window.edits.select_shots([deleted.id])
    window.edits.delete()
    render = load_project(folder)
    add_take(render, 2)
    render.story.shots[2].takes[-1].id = "another"
    render.save()
    assert window.files.save()
    said = window.statusBar().currentMessage()
    assert "; 1 take a render made for a shot deleted here (" in said and "is left out of the project" in said
    assert window.files.save() and window.statusBar().currentMessage() == f"Saved {folder / PROJECT_FILE}"


def test_takes_for_many_deleted_shots_are_counted_and_the_list_is_cut_short():
    from storyboard.outside_takes import deleted_shot_words
    from storymem_engine.story import Shot, Take

    shots = [Shot(id=f"s{n}", prompt=f"Shot number {n} with a long prompt that goes on and on") for n in range(5)]
    found = [(shot, Take(id=f"t{k}", request={}, clip="")) for shot in shots for k in range(2)]
    words = deleted_shot_words(found, saving=True)
    assert words.startswith('10 takes a render made for 5 shots deleted here ("Shot number 0 with a long …", ')
    assert words.endswith("are left out of the project; the files stay in takes/s0/, takes/s1/, takes/s2/, …")
    assert deleted_shot_words([]) == ""


def test_a_save_reads_project_json_again_only_when_someone_else_wrote_it(window, recorded_dialogs, tmp_path,
                                                                          monkeypatch):
    """The re-read looking for a render's takes was most of a Ctrl+S on a 1,000-shot project (0.4 of 0.55 s)."""
    from storyboard import file_controller

    folder = _saved(window, recorded_dialogs, tmp_path)
    reads = []
    real = file_controller.load_project
    monkeypatch.setattr(file_controller, "load_project", lambda *a, **k: reads.append(1) or real(*a, **k))
    window.edits.edit_field(window.project.story.shots[0].id, "notes", "one")
    assert window.files.save()
    window.edits.edit_field(window.project.story.shots[0].id, "notes", "two")
    assert window.files.save()
    assert reads == []  # unchanged since this editor wrote it
    render = real(folder)
    add_take(render, 1)  # a render in a terminal records a take
    render.save()
    assert window.files.save() and len(reads) == 1
    assert window.project.story.shots[1].accepted_take == "take1"
