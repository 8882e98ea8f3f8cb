"""Cut, copy and paste shots on the timeline (Edit menu, Ctrl+X/C/V, the cards' right-click menu), within a project
and into another one; what the clipboard holds from elsewhere never breaks anything."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from ui_helpers import add_take, ids, prompts, show_active

from storyboard.shot_clipboard import SHOTS_MIME, ClipboardError, keep_text_only, shots_from_mime


def _keys(win, key: str) -> None:
    """A key press on the timeline, where the cards have the focus (its shortcuts are timeline-only)."""
    show_active(win)
    win.timeline.setFocus()
    QTest.keyClick(win.timeline, key, Qt.KeyboardModifier.ControlModifier)


def test_copy_and_paste_shots_as_new_shots_with_one_undo_step(window):
    shots = window.project.story.shots
    before = prompts(window)
    shots[1].notes, shots[1].seed, shots[2].mode = "handheld", 77, "m2v"
    window.edits.select_shots([shots[1].id, shots[2].id])
    _keys(window, "c")
    assert QGuiApplication.clipboard().text().splitlines() == [" ".join(p.split()) for p in before[1:3]]

    window.edits.select_shots([shots[4].id])
    count = window.undo_stack.count()
    _keys(window, "v")
    pasted = window.project.story.shots[5:7]
    assert prompts(window) == before[:5] + before[1:3] + before[5:]
    assert (pasted[0].notes, pasted[0].seed, pasted[1].mode) == ("handheld", 77, "m2v")
    assert not {p.id for p in pasted} & {s.id for s in shots if s not in pasted}  # new shots, not the same ones
    assert window.edits.selected_rows() == [5, 6] and window.inspector.title() == "Shot 6  ·  2 selected"
    assert window.undo_stack.count() == count + 1 and window.undo_stack.undoText() == "Paste as shots 6–7"
    said = window.statusBar().currentMessage()
    assert "Pasted 2 shots as shots 6–7, in scene 2 (no takes yet: generate them)" in said
    window.undo_stack.undo()
    assert prompts(window) == before
    keep_text_only()  # as the app quits: the prompts stay on the clipboard as text
    clipboard = QGuiApplication.clipboard()
    assert not clipboard.mimeData().hasFormat(SHOTS_MIME) and clipboard.text().startswith("Medium shot")


def test_cut_moves_shots_through_the_clipboard_and_undo_brings_them_back(window):
    order = ids(window)
    before = prompts(window)
    window.edits.select_shots(order[0:2])
    _keys(window, "x")
    assert prompts(window) == before[2:] and window.undo_stack.undoText() == "Cut 2 shots"
    window.edits.select_shots([window.project.story.shots[-1].id])
    _keys(window, "v")
    assert prompts(window) == before[2:] + before[:2]
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert ids(window) == order  # the cut shots themselves, takes and all, not copies


def test_pasted_shots_carry_no_takes_and_go_into_another_project(window, tmp_path, recorded_dialogs):
    recorded_dialogs.paths.append(str(tmp_path / "first.storymem"))
    assert window.files.save_as()
    add_take(window.project, 0)
    window.edits.select_shots([window.project.story.shots[0].id])
    window.actions_by_name["copy"].trigger()
    assert "takes stay with their shots" in window.statusBar().currentMessage()

    window.undo_stack.setClean()
    assert window.files.new_project()
    window.edits.select_shots([window.project.story.shots[0].id])
    window.actions_by_name["paste"].trigger()
    pasted = window.project.story.shots[1]
    assert pasted.prompt.startswith("Wide shot of a white lighthouse")
    assert pasted.takes == [] and pasted.accepted_take is None
    assert "Pasted 1 shot as shot 2, in scene 1 (no takes yet: generate it)" == window.statusBar().currentMessage()


def test_pasted_shots_take_the_scene_they_land_in(window):
    """Scene 2's shots pasted into scene 1 read SCENE 1, SCENE 2, SCENE 1 again, and the story script could not be
    written; at the end of the timeline shots copied across scenes keep their scene change."""
    from storymem_engine.story import story_from_script, story_to_script

    story = window.project.story
    assert [s.scene_num for s in story.shots] == [1, 1, 1, 1, 2, 2]
    window.edits.select_shots([s.id for s in story.shots[3:6]])  # the end of scene 1 and scene 2
    window.actions_by_name["copy"].trigger()
    window.edits.select_shots([story.shots[0].id])
    window.actions_by_name["paste"].trigger()
    assert [s.scene_num for s in story.shots] == [1, 1, 1, 1, 1, 1, 1, 2, 2]
    assert "in scene 1" in window.statusBar().currentMessage()
    story_from_script(story_to_script(story), "the script")  # one run of shots per scene: Export story JSON fits
    window.edits.select_shots([story.shots[-1].id])
    window.actions_by_name["paste"].trigger()
    assert [s.scene_num for s in story.shots][9:] == [2, 3, 3]
    assert "in scenes 2–3" in window.statusBar().currentMessage()
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert [s.scene_num for s in story.shots] == [1, 1, 1, 1, 2, 2]


def test_ctrl_c_in_a_prompt_copies_its_text_not_the_shot(window):
    show_active(window)
    window.inspector.edit_prompt()
    window.inspector.prompt.selectAll()
    QTest.keyClick(window.inspector.prompt, "c", Qt.KeyboardModifier.ControlModifier)
    mime = QGuiApplication.clipboard().mimeData()
    assert not mime.hasFormat(SHOTS_MIME) and mime.text() == window.project.story.shots[0].prompt


def test_what_is_not_our_shots_is_said_and_changes_nothing(window, recorded_dialogs):
    before, count = prompts(window), window.undo_stack.count()
    QGuiApplication.clipboard().setText("a prompt from a mail")
    assert not window.edits.paste()
    assert "the clipboard holds text: paste it into a shot's prompt" in window.statusBar().currentMessage()
    mime = QMimeData()
    mime.setData(SHOTS_MIME, b'{"shots": [{"prompt": "x", "mode": "warp"}]}')
    QGuiApplication.clipboard().setMimeData(mime)
    assert not window.edits.paste()
    kind, title, text = recorded_dialogs.messages[-1]
    assert (kind, title) == ("warning", "Cannot paste") and "copied shot 1:" in text and "'warp'" in text
    assert prompts(window) == before and window.undo_stack.count() == count


def test_right_click_menus_offer_the_edit_actions_with_their_keys(window):
    from storyboard.menus import timeline_menu

    card = [a.text().replace("&", "") for a in timeline_menu(window, on_card=True).actions() if a.text()]
    assert card[:2] == ["Generate shot", "Generate from here"]
    assert {"Cut", "Copy", "Paste", "Duplicate", "Delete", "Move left", "Move right"} <= set(card)
    assert [a.text().replace("&", "") for a in timeline_menu(window, on_card=False).actions()] == [
        "Paste", "Add shot at end"]
    copy = next(a for a in timeline_menu(window, on_card=True).actions() if a.text() == "&Copy")
    assert copy.shortcut().toString() == "Ctrl+C"


def test_right_clicks_leave_no_menus_behind(window):
    from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QTimer
    from PySide6.QtWidgets import QApplication, QMenu

    from storyboard.menus import show_timeline_menu

    for menu in window.timeline.findChildren(QMenu):  # the other tests' menus, made without a right-click
        menu.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    for _ in range(3):
        QTimer.singleShot(50, lambda: QApplication.activePopupWidget().close())  # the user closes it
        show_timeline_menu(window, QPoint(5, 5))
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert window.timeline.findChildren(QMenu) == []


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                   max_size=3), max_leaves=12)
_shot_fields = st.fixed_dictionaries({}, optional={
    "prompt": st.text(max_size=10) | _json, "cut": st.booleans() | _json, "scene_num": st.integers(-2, 2000) | _json,
    "mode": st.sampled_from(["auto", "t2v", "m2v", "mi2v", "mm2v", "warp"]), "seed": st.integers(-1, 2**64) | _json,
    "frames": st.integers(-1, 2000) | _json, "takes": _json, "notes": _json, "profile": _json})
_payloads = st.one_of(
    st.binary(max_size=64),
    _json.map(lambda v: json.dumps(v).encode()),
    st.lists(_shot_fields | _json, max_size=4).map(lambda shots: json.dumps({"shots": shots}).encode()),
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(_payloads)
def test_any_clipboard_content_pastes_as_shots_or_is_refused_in_words(qapp, payload):
    mime = QMimeData()
    mime.setData(SHOTS_MIME, payload)
    try:
        shots = shots_from_mime(mime)
    except ClipboardError as exc:
        assert str(exc)
        return
    assert shots and all(s.takes == [] and s.accepted_take is None for s in shots)
    assert len({s.id for s in shots}) == len(shots)


def test_edit_menu_copy_and_paste_act_on_the_text_being_typed(window):
    """Chosen from the Edit menu while typing a prompt, Copy copies the selected words and Paste pastes text there, as
    in any editor (they copied the shot, and Paste answered that the clipboard holds text)."""
    show_active(window)
    inspector = window.inspector
    inspector.edit_prompt()
    before, shots = inspector.prompt.toPlainText(), len(window.project.story.shots)
    inspector.prompt.selectAll()
    window.actions_by_name["copy"].trigger()
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.text() == before and not mime.hasFormat(SHOTS_MIME)
    inspector.prompt.moveCursor(inspector.prompt.textCursor().MoveOperation.End)
    window.actions_by_name["paste"].trigger()
    assert inspector.prompt.toPlainText() == before + before
    assert len(window.project.story.shots) == shots and window.project.story.shots[0].prompt == before + before
    window.timeline.setFocus()
    window.actions_by_name["copy"].trigger()  # on the cards again: the shot
    assert QGuiApplication.clipboard().mimeData().hasFormat(SHOTS_MIME)
