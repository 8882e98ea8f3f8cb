"""Working from the keyboard: the keys start on the cards, Tab leaves the prompt, the focused card is visible, Page
Up/Down page through a long strip, and every timeline edit says what it did in the status bar."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from ui_helpers import ids, show_active

from storyboard.card_delegate import CARD_SIZE, CUT_COLOR, paint_card, wrapped_lines
from storymem_engine.story import Shot


def test_the_keys_start_on_the_cards_and_tab_leaves_the_prompt(window):
    show_active(window)
    # No click first: Right moves to shot 2 and Del deletes it (the window's focus used to sit on the panels).
    assert QApplication.focusWidget() is window.timeline
    QTest.keyClick(window.timeline, Qt.Key.Key_Right)
    assert window.edits.selected_rows() == [1]

    # Enter edits the prompt; Tab moves on to the next field instead of typing an invisible tab into the prompt
    # (which made the shot's take stale).
    prompt_before = window.project.story.shots[1].prompt
    QTest.keyClick(window.timeline, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is window.inspector.prompt
    QTest.keyClick(window.inspector.prompt, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not window.inspector.prompt
    assert window.project.story.shots[1].prompt == prompt_before
    # Shift+Tab from the cards reaches the inspector's fields, never the invisible scroll area holding the panels.
    window.timeline.setFocus()
    seen = []
    for _ in range(40):
        window.focusNextChild()
        seen.append(QApplication.focusWidget())
        if seen[-1] is window.timeline:
            break
    assert window.top_scroll not in seen
    assert seen[0] is window.inspector.prompt and seen[-1] is window.timeline  # round the window and back


def test_page_keys_move_a_screenful_of_cards(window):
    window.project.story.shots.extend(Shot(prompt=f"extra shot {n}") for n in range(30))
    window.set_project(window.project, None)
    window.resize(1440, 900)
    show_active(window)
    per_page = window.timeline.viewport().width() // window.timeline.card_width()
    assert per_page >= 3
    QTest.keyClick(window.timeline, Qt.Key.Key_PageDown)
    assert window.edits.selected_rows() == [per_page]
    QTest.keyClick(window.timeline, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ShiftModifier)  # a range, as Shift+End
    assert window.edits.selected_rows() == list(range(per_page, 2 * per_page + 1))
    QTest.keyClick(window.timeline, Qt.Key.Key_PageUp)
    QTest.keyClick(window.timeline, Qt.Key.Key_PageUp)
    assert window.edits.selected_rows() == [0]


def _card(**kwargs) -> QImage:
    image = QImage(CARD_SIZE, QImage.Format.Format_RGB32)
    image.fill(QColor("black"))
    painter = QPainter(image)
    defaults = dict(shot=Shot(prompt="a gull lands on the rail", cut=False), number=1, status="empty", thumb=None,
                    scene_starts=True, selected=True)
    paint_card(painter, QRect(0, 0, CARD_SIZE.width(), CARD_SIZE.height()), **(defaults | kwargs))
    painter.end()
    return image


def test_the_card_the_keys_act_on_is_marked_and_the_first_shot_shows_as_a_cut(qapp):
    current, other = _card(current=True), _card(current=False)
    assert current != other  # a ring inside the border of the card the arrows move from
    # A selection while the keys are elsewhere (typing a prompt) is drawn greyer than one on the focused strip.
    assert _card(focused=False) != _card(focused=True)
    # A continuing shot dropped first (or left first by a delete) opens the story: it is drawn as a cut, the red
    # bar on its left edge, as it is generated, not "continues" with nothing before it.
    assert QColor(_card(opens=True).pixel(3, 90)) == CUT_COLOR
    assert QColor(_card(opens=False).pixel(3, 90)) != CUT_COLOR


def test_a_prompt_too_long_for_a_narrow_card_ends_in_an_ellipsis(qapp):
    metrics = QFontMetrics(QFont())
    text = "a lighthouse keeper climbs the spiral stairs at night carrying an oil lamp while rain lashes the glass"
    lines = wrapped_lines(text, metrics, 70, 3 * metrics.lineSpacing())
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(metrics.horizontalAdvance(line) <= 70 for line in lines)
    assert wrapped_lines("a gull", metrics, 70, 3 * metrics.lineSpacing()) == ["a gull"]


def test_a_continuing_shot_dropped_inside_another_scene_joins_it_and_undo_puts_it_back(window):
    story = window.project.story
    assert [s.scene_num for s in story.shots] == [1, 1, 1, 1, 2, 2] and not story.shots[3].cut
    moved = story.shots[3].id
    window.edits.move([moved], 5)  # shot 4 (continues shot 3, scene 1) between shots 5 and 6 of scene 2
    assert ids(window)[4] == moved and story.shots[4].scene_num == 2
    assert window.statusBar().currentMessage() == (
        "Shot 4 is shot 5 now (Edit > Undo puts it back). Shot 5 continues the shot before, so it joined scene 2.")
    window.edits.select_shots([moved])
    assert window.edits.select_scene() and window.edits.selected_rows() == [3, 4, 5]  # the scene whole
    window.undo_stack.undo()
    assert ids(window)[3] == moved and story.shots[3].scene_num == 1
    # A scene cut keeps its scene where scenes meet, as it opens one; inside a scene it joins it, still a cut (scene
    # 1 in two runs could not be written as a story script).
    window.edits.move([story.shots[4].id], 2)
    assert story.shots[2].scene_num == 1 and story.shots[2].cut
    assert window.statusBar().currentMessage().endswith(
        "Shot 3 joined scene 1, so no scene is in two pieces (a scene cut still: it starts afresh).")


def test_timeline_edits_say_what_they_did(window):
    message = window.statusBar().currentMessage
    window.edits.select_shots([window.project.story.shots[2].id])
    window.edits.duplicate()
    assert message() == "Duplicated shot 3 as shot 4 (no takes yet: generate it; Edit > Undo removes it)."
    window.edits.delete()
    assert message() == "Deleted shot 4 (Edit > Undo brings it back)."
    window.edits.insert_after()
    assert message().startswith("Inserted shot 5: type its prompt")  # after the shot selected once 4 went


def test_deleting_many_shots_is_one_change_per_run_and_undo_puts_each_back(window):
    """100 single removals each refreshed the window's panels: 1-2 s for 100 of 1,000 shots."""
    window.project.story.shots.extend(Shot(prompt=f"extra shot {n}") for n in range(30))
    window.set_project(window.project, None)
    before = ids(window)
    removed, inserted = [], []
    window.model.rowsRemoved.connect(lambda *_: removed.append(1))
    window.model.rowsInserted.connect(lambda *_: inserted.append(1))
    chosen = [*range(5, 25), 27, 30]
    window.edits.select_shots([before[r] for r in chosen])
    window.edits.delete()
    assert len(removed) == 3 and ids(window) == [i for r, i in enumerate(before) if r not in chosen]
    window.undo_stack.undo()
    assert len(inserted) == 3 and ids(window) == before
    assert window.edits.selected_rows() == chosen


def test_typed_decimals_stick_in_the_inspector(window):
    """Each keystroke was taken: "2" became 2.00 s at once and the "." of "2.5" was refused; "0.5" snapped to the
    default at its "0"."""
    show_active(window)
    shot = window.project.story.shots[0]
    for spin, typed, field, value in ((window.inspector.duration, "2.5", "duration_s", 2.5),
                                      (window.inspector.duration, "0.5", "duration_s", 0.5),
                                      (window.inspector.guidance, "4.5", "guidance", 4.5)):
        spin.setFocus()
        spin.lineEdit().selectAll()
        QTest.keyClicks(spin.lineEdit(), typed)
        QTest.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
        assert getattr(shot, field) == value, typed


def test_an_export_never_replaces_the_project_file(window, recorded_dialogs, tmp_path):
    """A story script saved as <project>/project.json ("Replace file?" Yes) left the project unopenable."""
    recorded_dialogs.paths.append(str(tmp_path / "Kite"))
    assert window.files.save_as()
    project_json = window.project_path / "project.json"
    saved = project_json.read_text()
    recorded_dialogs.paths.append(str(project_json))
    assert not window.files.export_story()
    assert recorded_dialogs.texts("error")[-1] == (f"{project_json} is a StoryMem project's own file: choose "
                                                   "another name.")
    assert project_json.read_text() == saved
    recorded_dialogs.paths.append(str(tmp_path / ("x" * 300)))  # a name too long: a message, not a traceback
    assert not window.files.export_story()
    assert "File name too long" in recorded_dialogs.texts("error")[-1]


def test_esc_brings_the_keys_back_to_the_cards_from_any_panel(window, qtbot, tmp_path, recorded_dialogs):
    from ui_helpers import a_take_shown

    a_take_shown(window, qtbot, tmp_path, recorded_dialogs)
    show_active(window)
    inspector, preview = window.inspector, window.preview
    for field in (inspector.prompt, inspector.notes, inspector.seed, inspector.mode, inspector.cut, preview.takes,
                  preview.player.slider, window.memory_strip.list):
        field.setFocus()
        assert QApplication.focusWidget() is field
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
        assert QApplication.focusWidget() is window.timeline, type(field).__name__
    assert window.edits.selected_rows() == [0]  # the same card, nothing else changed
    assert not window.undo_stack.count()
