"""The Cast panel: build a cast, attach it, generate with it, and see it in every affected shot's memory."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from ui_helpers import statuses

from storymem_engine.project import load_project

WAIT_MS = 60_000


def _images(folder: Path, name: str, count: int) -> list[str]:
    paths = []
    for n in range(count):
        path = folder / f"{name}_{n}.png"
        Image.new("RGB", (64, 48), (60 * n, 180, 200 - 40 * n)).save(path)
        paths.append(str(path))
    return paths


def test_build_a_cast_with_undo_and_bad_files_refused(gen_window, tmp_path, recorded_dialogs):
    win = gen_window
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert win.casting.add_files([*_images(tmp_path, "Mara", 2), str(bad)])
    member = win.project.story.cast[0]
    assert member.name == "Mara 0" and len(member.images) == 2
    assert all((win.project_path / i.path).is_file() for i in member.images)  # copied into references/
    assert recorded_dialogs.messages[-1][1] == "Some images were not added" and "notes.png" in \
        recorded_dialogs.messages[-1][2]
    assert win.lower_tabs.tabText(1) == "Cast (1)" and win.cast_panel.list.count() == 1
    # The new member is selected: Add images, Attach and Remove are ready without a click.
    panel = win.cast_panel
    assert panel.selected_member() == member.id and panel.attach_button.isEnabled()
    assert panel.selection_note.text() == "Mara 0: 2 images, attached to every shot"
    assert win.casting.set_attachment(member.id, "none", "", "", [])
    assert panel.selection_note.text() == "Mara 0: 2 images, not attached"  # not "attached to not attached"
    win.undo_stack.undo()
    # Rename in place (F2 in the panel), then undo both steps.
    win.cast_panel.list.item(0).setText("Mara")
    assert win.project.story.cast[0].name == "Mara"
    win.undo_stack.undo()
    assert win.project.story.cast[0].name == "Mara 0"
    win.undo_stack.undo()
    assert win.project.story.cast == [] and win.cast_panel.list.count() == 0
    win.undo_stack.redo()
    win.undo_stack.redo()
    assert win.project.story.cast[0].name == "Mara"
    # Save and reopen: the same cast.
    assert win.files.save()
    assert load_project(win.project_path).story.cast == win.project.story.cast
    # Nothing usable: nothing added, and it says so.
    assert not win.casting.add_files([str(bad)])
    assert recorded_dialogs.messages[-1][1] == "No image was added" and len(win.project.story.cast) == 1


def test_images_dropped_from_the_file_manager_join_the_member_under_the_cursor(gen_window, tmp_path):
    win = gen_window
    panel = win.cast_panel
    win.lower_tabs.setCurrentWidget(panel)
    win.show()

    def drop(paths, at):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
        event = QDropEvent(QPointF(at), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                           Qt.KeyboardModifier.NoModifier)
        panel.dropEvent(event)

    drop(_images(tmp_path, "Lighthouse", 1), panel.rect().bottomRight() - panel.rect().topLeft() / 2)
    assert [m.name for m in win.project.story.cast] == ["Lighthouse 0"]
    item_rect = panel.list.visualItemRect(panel.list.item(0))
    at = panel.list.viewport().mapTo(panel, item_rect.center())
    drop(_images(tmp_path, "side", 1), at)
    assert len(win.project.story.cast) == 1 and len(win.project.story.cast[0].images) == 2


def test_attaching_marks_exactly_the_affected_shots_stale_and_generation_uses_the_references(
        gen_window, qtbot, tmp_path):
    win = gen_window
    win.project.story.shots[1].cut = True  # a scene cut (M2V): its shape comes from its memory, not a last frame
    win.model.refresh_all()
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert statuses(win) == ["done", "done", "done"]
    shots = win.project.story.shots
    portrait = _images(tmp_path, "Mara", 1)
    Image.new("RGB", (48, 96), (60, 180, 200)).save(portrait[0])  # a portrait reference in a landscape film
    assert win.casting.add_files(portrait)
    member = win.project.story.cast[0]
    # Attached to every shot: shots 2 and 3 remembered other images; shot 1 (T2V) would now be MR2V, made from the
    # reference, so it is stale too (it stayed done, and Regenerate stale built shots 2-3 on the T2V take).
    assert statuses(win) == ["stale", "stale", "stale"]
    tip = " ".join(win.model.index(0).data(Qt.ItemDataRole.ToolTipRole).split())
    assert "cast reference “Mara 0” is new to its memory" in tip
    assert win.casting.set_attachment(member.id, "shots", "", "", [shots[1].id])
    assert statuses(win) == ["done", "stale", "done"]  # exactly the shot whose memory changed
    tip = " ".join(win.model.index(1).data(Qt.ItemDataRole.ToolTipRole).split())
    assert "cast reference “Mara 0” is new to its memory" in tip
    win.edits.select_shots([shots[1].id])
    assert win.inspector.cast.text() == "Mara 0"
    labels = [win.memory_strip.list.item(i).text() for i in range(win.memory_strip.list.count())]
    assert labels[0].startswith("cast · Mara 0")
    # Generate the stale shots: the new take of shot 2 was conditioned on the reference first.
    assert win.generation.generate_stale()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    take = shots[1].accepted()
    assert take.request["memory_keys"][0] == f"ref:{member.id}:{member.images[0].id}"
    # The film's shape, not the portrait reference's: a later shot follows the film's keyframes.
    assert (take.request["width"], take.request["height"]) == (64, 48)
    assert statuses(win) == ["done", "done", "done"]
    # Detaching makes exactly that shot stale again; undo brings the attachment back.
    assert win.casting.set_attachment(member.id, "none", "", "", [])
    assert statuses(win)[1] == "stale"
    win.undo_stack.undo()
    assert statuses(win)[1] == "done"


def test_a_reference_image_that_does_not_decode_says_so_in_the_panel_and_stops_the_shot(gen_window, qtbot, tmp_path,
                                                                                        recorded_dialogs):
    win = gen_window
    assert win.casting.add_files(_images(tmp_path, "Mara", 2))
    member = win.project.story.cast[0]
    win.casting.set_attachment(member.id, "range", "", win.project.story.shots[0].id, [])
    assert win.files.save()
    (win.project_path / member.images[1].path).write_bytes(b"written over" * 30)
    win.files.open_path(win.project_path)  # reopened after the file was damaged
    item = win.cast_panel.list.item(0)
    qtbot.waitUntil(lambda: "An image cannot be read (damaged or cut off)" in item.toolTip(), timeout=10_000)
    win.edits.select_shots([win.project.story.shots[0].id])
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert (f"the cast reference “Mara 0” ({member.images[1].path}) cannot be read (not an image in a format that "
            "can be read): add the image again or detach it from this shot") in recorded_dialogs.texts("error")[-1]


def test_a_reference_on_the_first_shot_makes_it_mr2v(gen_window, qtbot, tmp_path):
    win = gen_window
    assert win.casting.add_files(_images(tmp_path, "Mara", 2))
    member = win.project.story.cast[0]
    win.casting.set_attachment(member.id, "range", "", win.project.story.shots[0].id, [])
    win.edits.select_shots([win.project.story.shots[0].id])
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    request = win.project.story.shots[0].accepted().request
    assert request["mode"] == "m2v" and len(request["memory_keys"]) == 2


def test_story_export_and_import_carry_the_references_as_the_official_mr2v_run_reads_them(
        gen_window, tmp_path, recorded_dialogs, monkeypatch):
    from PySide6.QtCore import QStandardPaths

    win = gen_window
    assert win.casting.add_files(_images(tmp_path, "Mara", 2))
    member = win.project.story.cast[0]
    script = tmp_path / "shared" / "story.json"
    script.parent.mkdir()
    recorded_dialogs.paths.append(str(script))
    assert win.files.export_story()
    folder = script.with_suffix("")
    assert sorted(p.name for p in folder.iterdir()) == ["00_00_keyframe0.jpg", "00_00_keyframe1.jpg"]
    assert "and 2 MR2V reference images in story/" in win.statusBar().currentMessage()

    QStandardPaths.setTestModeEnabled(True)  # the imported story's project lives in the app's folder
    win.undo_stack.setClean()
    recorded_dialogs.save_discard_cancel.append("discard")
    assert win.files.import_story(script)
    cast = win.project.story.cast
    assert len(cast) == 1 and len(cast[0].images) == 2 and cast[0].name == "References (story/)"
    assert cast[0].attach == "range" and not cast[0].from_shot and not cast[0].to_shot  # every shot
    assert Image.open(win.project_path / cast[0].images[0].path).size == Image.open(
        tmp_path / "Mara_0.png").size
    assert member.id != cast[0].id
    win.files.maybe_save()  # discard the imported, never-saved project


def test_every_kind_of_cast_change_turns_the_shots_that_used_it_stale_and_undo_restores(
        gen_window, qtbot, tmp_path, recorded_dialogs):
    win = gen_window
    assert win.casting.add_files(_images(tmp_path, "Mara", 2))
    member_id = win.project.story.cast[0].id
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert statuses(win) == ["done", "done", "done"]
    image_id = win.project.story.cast[0].images[1].id
    recorded_dialogs.file_lists.append(_images(tmp_path, "new", 1))
    edits = [
        ("remove an image", lambda: win.casting.remove_image(member_id, image_id)),
        ("replace the images", lambda: win.casting.replace_images(member_id)),
        ("remove the member", lambda: win.casting.remove(member_id)),
        ("attach elsewhere", lambda: win.casting.set_attachment(member_id, "shots", "", "", [])),
    ]
    for what, edit in edits:
        assert edit(), what
        assert statuses(win) == ["stale", "stale", "stale"], what  # every shot carried the member
        win.undo_stack.undo()
        assert statuses(win) == ["done", "done", "done"], what
        win.undo_stack.redo()
        assert "stale" in statuses(win), what
        win.undo_stack.undo()


def test_the_attach_dialog_shows_each_shot_by_its_first_words_with_the_whole_prompt_on_hover(window, qtbot):
    from storyboard.attach_dialog import AttachDialog
    from storymem_engine.cast import CastMember

    story = window.project.story
    dialog = AttachDialog(story, CastMember(name="Mara"), window)
    qtbot.addWidget(dialog)
    assert dialog.sizeHint().width() >= 500  # was 278 px: prompts cut after four words, mid-word
    item = dialog.shots.item(0)
    assert item.text().startswith("Shot 1: Wide shot of a white lighthouse") and item.text().endswith(" …")
    assert item.toolTip() == story.shots[0].prompt

    # The list shows what the option chosen attaches, and is edited only under "Only these shots".
    def ticked():
        return [n for n in range(dialog.shots.count())
                if dialog.shots.item(n).checkState() == Qt.CheckState.Checked]

    assert dialog.every.isChecked() and ticked() == list(range(6)) and not dialog.shots.isEnabled()
    dialog.range.setChecked(True)
    dialog.first.setValue(2)
    dialog.last.setValue(3)
    assert ticked() == [1, 2] and not dialog.shots.isEnabled() and dialog.first.isEnabled()
    dialog.listed.setChecked(True)
    assert dialog.shots.isEnabled() and not dialog.first.isEnabled() and ticked() == [1, 2]
    dialog.shots.item(5).setCheckState(Qt.CheckState.Checked)
    assert dialog.values()["shots"] == [story.shots[n].id for n in (1, 2, 5)]
    dialog.none.setChecked(True)
    assert ticked() == [] and dialog.values()["attach"] == "none"


def test_a_phone_photo_stands_upright_and_a_cut_out_is_on_white(gen_window, tmp_path, recorded_dialogs):
    """EXIF rotation applied (every reader takes the stored pixels: a portrait photo was used sideways), a cut-out's
    transparent background white (dropping the alpha made it black), an empty file named as empty."""
    from storyboard.card_delegate import initials

    win = gen_window
    photo = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees: a portrait
    Image.new("RGB", (64, 32), (200, 40, 40)).save(photo, exif=exif)
    cutout = tmp_path / "cutout.png"
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(cutout)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert win.casting.add_files([str(photo), str(cutout), str(empty)])
    images = win.project.story.cast[0].images
    with Image.open(win.project_path / images[0].path) as upright:
        assert upright.size == (32, 64)
    with Image.open(win.project_path / images[1].path) as flat:
        assert flat.mode == "RGB" and flat.getpixel((20, 20)) == (255, 255, 255)
    assert "empty.png: an empty file (0 bytes)" in recorded_dialogs.messages[-1][2]
    assert initials("References (lh/)") == "RL" and initials("Zoë Ma") == "ZM" and initials("(?)") == "?"
