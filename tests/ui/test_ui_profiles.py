"""The Draft profile in the editor: chosen per project or shot, said on every take, in the film, and finalized."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from ui_helpers import add_take

from storyboard.film_export import export_film
from storymem_engine.project import Project
from storymem_engine.request import DRAFT_NOTE
from storymem_engine.story import Shot, Story
from storymem_engine.video import read_video


def _two_shot_project(folder: Path) -> Project:
    story = Story(name="D", shots=[Shot(prompt="first", cut=True, scene_num=1), Shot(prompt="second", cut=True)])
    project = Project(folder=folder, story=story)
    add_take(project, 0)
    add_take(project, 1)
    project.story.shots[1].accepted().request["profile"] = "draft"
    project.save()
    return project


def test_the_exported_film_marks_every_frame_of_a_draft_shot(qapp, tmp_path):
    project = _two_shot_project(tmp_path / "d.storymem")
    out = tmp_path / "film.mp4"
    assert export_film(project, out, 9, (64, 48)) == 18
    frames = read_video(out)
    corner = frames[:, :8, :30].reshape(len(frames), -1, 3).astype(int)
    amber = ((corner[..., 0] > 150) & (corner[..., 1] > 100) & (corner[..., 2] < 90)).sum(axis=1)
    assert (amber[:9] == 0).all()  # the final take: untouched
    assert (amber[9:] > 0).all()  # the draft: labelled in every frame


def test_draft_takes_say_so_on_the_card_and_in_the_take_details(window, tmp_path):
    from storyboard.preview_panel import take_details

    project = _two_shot_project(tmp_path / "d.storymem")
    assert window.files.open_project(project.folder)
    tip = " ".join(window.model.index(1).data(Qt.ItemDataRole.ToolTipRole).split())
    assert DRAFT_NOTE in tip and "Finalize drafts" in tip
    assert DRAFT_NOTE not in " ".join(window.model.index(0).data(Qt.ItemDataRole.ToolTipRole).split())
    assert ("profile", DRAFT_NOTE) in take_details(window.project.story.shots[1].accepted())
    window.edits.select_shots([window.project.story.shots[1].id])
    assert DRAFT_NOTE in window.preview.takes.item(0).text()


def test_the_profile_is_a_project_setting_and_draft_is_greyed_out_without_the_distilled_loras(window, qtbot):
    from storyboard.render_settings_dialog import RenderSettingsDialog

    dialog = RenderSettingsDialog(window.render_settings(), "p", "wan", window,
                                  draft_unavailable="the distilled LoRAs are not in the models folder")
    qtbot.addWidget(dialog)
    combo = dialog.form.profile
    assert combo.currentData() == "final"
    assert not combo.model().item(combo.findData("draft")).isEnabled()
    assert "Draft is not available" in combo.toolTip()
    open_dialog = RenderSettingsDialog(window.render_settings(), "p", "tiny", window)
    qtbot.addWidget(open_dialog)
    form, note = open_dialog.form, open_dialog.draft_note
    assert "at 128x80, 17 frames, 4 steps:" in note.text() and form.steps.isEnabled()
    form.frames.setValue(33)  # the tiny engine's note follows the fields
    assert "128x80, 33 frames, 4 steps" in note.text()
    form.profile.setCurrentIndex(form.profile.findData("draft"))
    assert open_dialog.values().profile == "draft"
    # The profile sets its own steps and guidance: those fields stop seeming to apply.
    assert "4 distilled steps, CFG off (the Draft profile)" in note.text()
    assert not form.steps.isEnabled() and not form.guidance.isEnabled()


def test_finalize_with_no_drafts_says_so(window, recorded_dialogs):
    assert not window.generation.finalize()
    assert recorded_dialogs.messages[-1][1] == "No drafts to finalize"


def test_a_shot_can_take_its_own_profile_in_the_inspector_undoably(window):
    shot = window.project.story.shots[2]
    window.edits.select_shots([shot.id])
    combo = window.inspector.profile
    combo.setCurrentIndex(combo.findData("draft"))
    assert shot.profile == "draft" and window.isWindowModified()
    window.undo_stack.undo()
    assert shot.profile == "" and combo.currentData() == ""


def test_draft_on_the_tiny_engine_then_finalize_makes_the_same_shots_final(gen_window, qtbot):
    from ui_helpers import set_render

    win = gen_window
    set_render(win, profile="draft")
    assert win.generation.generate_all()
    assert "Draft profile" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=60_000)
    shots = win.project.story.shots
    drafts = [s.accepted() for s in shots]
    assert all(t.request["profile"] == "draft" and t.request["steps"] == 4 and t.request["guidance"] == 1.0
               for t in drafts)
    drafts[0].trim_in, drafts[0].trim_out = 2, drafts[0].frames - 1  # cut in the editor before finalizing
    win.edits.edit_field(shots[1].id, "profile", "draft")  # this shot set to Draft in the inspector
    assert win.generation.finalize()
    # Finalized, the shot and the project say Final: the next Generate (a stale shot, say) does not make a draft.
    assert shots[1].profile == "final" and win.render_settings().profile == "final"
    assert win.undo_stack.undoText() == "Set shot 2 and the project to Final"
    assert "Render settings are Final now" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=60_000)
    finals = [s.accepted() for s in shots]
    assert all(t.request["profile"] == "final" for t in finals)
    assert (finals[0].trim_in, finals[0].trim_out) == (2, drafts[0].frames - 1)  # the same cut, made final
    assert not any(t.trimmed for t in finals[1:])
    assert [t.request["seed"] for t in finals] == [t.request["seed"] for t in drafts]
    assert all(len(s.takes) == 2 and s.takes[0] is d for s, d in zip(shots, drafts, strict=True))
    assert not win.generation.finalize()  # nothing left to finalize


def test_a_correction_message_grows_the_dialog_instead_of_cutting_the_notes_above_it(window, qtbot):
    from storyboard.render_settings_dialog import RenderSettingsDialog

    dialog = RenderSettingsDialog(window.render_settings(), "p", "tiny", window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.form.size.setCurrentText("100x100")
    dialog.accept()  # corrected to 96x96: the message shows and the dialog stays open
    assert dialog.isVisible() and "size 100x100 -> 96x96" in dialog.problems.text()
    qtbot.wait(50)
    note = dialog.form.offload_needs
    assert note.height() >= note.heightForWidth(note.width())  # every line of the offload note in view
