"""Edit > Find and replace in prompts (Ctrl+H): a live count, Replace all as one undo step, stale takes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtTest import QTest
from ui_helpers import add_take, show_active, statuses

from storyboard.find_replace_dialog import HINT


def test_renaming_a_character_in_every_prompt_is_one_undo_step(window, qtbot, tmp_path):
    story = window.project.story
    window.project.folder = tmp_path  # the takes below need a folder
    add_take(window.project, 1)
    story.shots[1].accepted().request["prompt"] = story.shots[1].prompt  # as the engine records it
    window.model.refresh_all()
    before = [shot.prompt for shot in story.shots]
    maras = sum(prompt.count("Mara") for prompt in before)
    assert maras >= 6 and statuses(window)[1] == "done"

    show_active(window)
    QTest.keyClick(window, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    dialog = window.find_replace_dialog
    assert dialog.isVisible() and dialog.focusWidget() is dialog.find  # typing goes to Find
    assert dialog.count.text() == "Type the text to find." and not dialog.replace_all.isEnabled()
    QTest.keyClicks(dialog.find, "mara")
    assert dialog.count.text() == f"{maras} matches in shots 1–6."  # case-insensitive by default
    dialog.match_case.setChecked(True)
    assert dialog.count.text() == "Not found in the prompts." and not dialog.replace_all.isEnabled()
    dialog.find.setText("Mara")
    dialog.replace.setText("Ines")
    QTest.keyClick(dialog.replace, Qt.Key.Key_Return)  # Enter: Replace all, the dialog's default button

    after = [shot.prompt for shot in story.shots]
    assert after == [prompt.replace("Mara", "Ines") for prompt in before]
    assert window.inspector.prompt.toPlainText() == after[window.current_row()]
    assert dialog.count.text() == "Not found in the prompts."
    assert dialog.result.text() == (f"Replaced {maras} matches in shots 1–6. 1 of them had a take, now stale: "
                                    "Generate > Regenerate stale shots redoes them.")
    assert statuses(window)[1] == "stale"
    assert window.undo_stack.undoText() == "Replace “Mara” in shots 1–6"

    window.undo_stack.undo()  # Edit > Undo: every prompt back at once, the take current again
    assert [shot.prompt for shot in story.shots] == before and statuses(window)[1] == "done"
    assert dialog.count.text() == f"{maras} matches in shots 1–6."  # the count follows the story
    assert dialog.result.text() == HINT  # "Replaced ... now stale" no longer is
    dialog.find.setText("Mara's")  # new text: the last result no longer shows, as if it were about this text
    assert dialog.result.text() == HINT and dialog.count.text() == "1 match in shot 3."
    dialog.close()


def test_replacing_in_the_selected_shots_leaves_the_others(window):
    story = window.project.story
    before = [shot.prompt for shot in story.shots]
    window.edits.select_shots([story.shots[0].id, story.shots[3].id])
    dialog = window.actions_by_name["find_replace"].trigger() or window.find_replace_dialog
    assert dialog.scope.currentData() == "selected"  # several shots selected: in them
    dialog.find.setText("lighthouse")
    dialog.whole_words.setChecked(True)
    assert dialog.count.text().startswith("2 matches in shots 1, 4.")  # and the sample's first-frame prompt
    dialog.replace.setText("")  # remove it
    dialog.replace_all.click()
    assert [shot.prompt != old for shot, old in zip(story.shots, before, strict=True)] == \
        [True, False, False, True, False, False]
    assert "lighthouse" not in story.shots[0].prompt and "lighthouse" in story.shots[4].prompt
    dialog.scope.setCurrentIndex(0)
    assert dialog.count.text().startswith("2 matches in shots 5–6.")  # the rest of the story still has them
    dialog.close()


def test_ctrl_h_while_typing_a_prompt_opens_it_with_the_selected_words(window):
    show_active(window)
    window.inspector.prompt.setFocus()
    typed = window.inspector.prompt.toPlainText()
    cursor = window.inspector.prompt.textCursor()
    cursor.setPosition(typed.index("Mara"))
    cursor.setPosition(typed.index("Mara") + 4, QTextCursor.MoveMode.KeepAnchor)
    window.inspector.prompt.setTextCursor(cursor)  # "Mara" selected in the prompt
    QTest.keyClick(window.inspector.prompt, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    assert window.find_replace_dialog.isVisible()
    assert window.find_replace_dialog.find.text() == "Mara"  # what was selected is what to find
    assert window.inspector.prompt.toPlainText() == typed  # nothing typed or deleted in the prompt
    window.find_replace_dialog.close()


def test_the_count_follows_the_selection_and_a_rename_reaches_the_first_frame_prompts(window):
    """In the selected shots, the count said 3 after the selection had grown to 5, and Replace all changed 5; the
    story script's first-frame prompts (no card shows them) kept the old name and went back out in its export."""
    story = window.project.story
    for shot in story.shots:
        shot.first_frame_prompt = f"First frame: {shot.prompt.split(',')[0]}"
    window.edits.select_shots([story.shots[0].id, story.shots[1].id])
    window.actions_by_name["find_replace"].trigger()
    dialog = window.find_replace_dialog
    dialog.find.setText("Mara")
    dialog.match_case.setChecked(True)
    two = dialog.count.text()
    window.edits.select_shots([shot.id for shot in story.shots[:4]])
    assert dialog.count.text() != two and dialog.count.text().startswith("4 matches in shots 1–4.")
    hidden = sum(shot.first_frame_prompt.count("Mara") for shot in story.shots[:4])
    assert hidden and f"Also {hidden} in their first-frame prompts" in dialog.count.text()
    dialog.replace.setText("Ines")
    dialog.run()
    assert all("Mara" not in (s.prompt + s.first_frame_prompt) for s in story.shots[:4])
    assert all("Mara" in s.prompt for s in story.shots[4:] if "Mara" in s.first_frame_prompt)
    assert f"Also {hidden} in their first-frame prompts" in dialog.result.text()
    window.undo_stack.undo()  # both back in one step
    assert all(s.first_frame_prompt.startswith("First frame: ") and "Ines" not in s.first_frame_prompt
               for s in story.shots)
    dialog.close()


def test_a_prompt_replaced_by_nothing_is_said(window):
    shot = window.project.story.shots[2]
    window.edits.select_shots([shot.id])
    window.actions_by_name["find_replace"].trigger()
    dialog = window.find_replace_dialog
    dialog.scope.setCurrentIndex(dialog.scope.findData("selected"))
    dialog.find.setText(shot.prompt)
    dialog.run()
    assert shot.prompt == "" and "Shot 3 has no prompt now." in dialog.result.text()
    dialog.close()
