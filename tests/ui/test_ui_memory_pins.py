"""Pinning and excluding memory keyframes from the memory strip: what the next generation gets,
stale badges, undo, saving, keyboard and context menu, pins that do not fit."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from ui_helpers import add_take, set_render, statuses

from storyboard.memory import memory_bank, memory_for

WAIT_MS = 60_000


@pytest.fixture
def gen_prompts() -> tuple[str, ...]:
    return ("a lighthouse at dusk", "waves hit the rocks", "a gull lands on the rail", "the lamp turns on")


def tooltip(win, row: int) -> str:
    return " ".join(win.model.index(row).data(Qt.ItemDataRole.ToolTipRole).split())


def strip_keys(strip) -> list[str]:
    return [item.data(Qt.ItemDataRole.UserRole) for item in strip.items()]


def chosen_keys(strip) -> list[str]:
    return [e.keyframe.key for e in strip.entries if e.state in ("memory", "pinned")]


def menu_action(menu, starts: str):
    return next(a for a in menu.actions() if a.text().startswith(starts))


def set_memory(win, size: int, sink: int) -> None:
    set_render(win, memory_size=size, memory_sink=sink)


def test_pin_and_exclude_change_what_the_next_generation_remembers(gen_window, qtbot, recorded_dialogs):
    win = gen_window
    set_memory(win, 2, 1)  # small memory: shot 4's bank (>= 3 keyframes) does not fit, so the policy chooses
    assert win.generation.generate_all()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert recorded_dialogs.texts("error") == []
    story = win.project.story
    shots = story.shots
    assert statuses(win) == ["done"] * 4

    # Shot 4's strip shows its whole bank; the memory its take saw is framed, the rest "not used".
    win.edits.select_shots([shots[3].id])
    strip = win.memory_strip
    bank = strip_keys(strip)
    assert bank == [k.key for k in memory_bank(story, 3)] and len(bank) >= 3
    seen = shots[3].accepted().request["memory_keys"]
    assert seen == chosen_keys(strip) == [bank[0], bank[-1]]  # sink 1 + window 1
    assert strip.state_of(bank[1]) == "unused" and "not used" in strip.item_for(bank[1]).text()

    # Exclude the sink keyframe with the strip's button: every shot that remembered it goes stale.
    first, middle = bank[0], bank[1]
    strip.select_keys([first])
    assert strip.exclude_button.text() == "Exclude"
    strip.exclude_button.click()
    assert story.memory_exclusions == [first]
    assert strip.state_of(first) == "excluded" and "excluded" in strip.item_for(first).text()
    assert first not in chosen_keys(strip)
    assert statuses(win) == ["done", "stale", "stale", "stale"]
    assert "excluded" in tooltip(win, 3)
    # The strip shows what the next take gets; the take on screen was made from the earlier memory, named in its
    # tooltip as the strip names keyframes.
    assert "Its accepted take was made from other memory" in strip.note.text()
    assert "\nmade from: shot 1 · kf 1; shot " in win.preview.takes.item(0).toolTip()  # the sink, then the window
    assert win.isWindowModified() and win.undo_stack.undoText() == "Exclude keyframe"

    # Undo brings the sink keyframe back and nothing is stale; redo excludes it again.
    win.undo_stack.undo()
    assert story.memory_exclusions == [] and strip.state_of(first) == "memory"
    assert statuses(win) == ["done"] * 4
    win.undo_stack.redo()
    assert story.memory_exclusions == [first] and statuses(win)[3] == "stale"

    # The excluded one is still shown and selectable; pin the unused middle one from the context menu.
    strip.select_keys([middle])
    menu_action(strip.context_menu(), "Pin").trigger()
    assert story.memory_pins == [middle] and strip.state_of(middle) == "pinned"
    wanted = chosen_keys(strip)
    assert middle in wanted and first not in wanted
    assert wanted == [k.key for k in memory_for(story, 3, 2, 1)]

    # Regenerating shot 4 uses exactly that memory: the pin is in, the excluded keyframe is not.
    win.edits.select_shots([shots[3].id])
    assert win.generation.generate_shot()
    qtbot.waitUntil(lambda: not win.generation.busy, timeout=WAIT_MS)
    assert recorded_dialogs.texts("error") == []
    remembered = shots[3].accepted().request["memory_keys"]
    assert remembered == wanted
    assert middle in remembered and first not in remembered
    # The shown shot's new take was made from the strip's memory: the note no longer says otherwise.
    assert "other memory" not in strip.note.text() and "conditioned on 2 of" in strip.note.text()
    assert len(shots[3].takes) == 2 and statuses(win)[3] == "done"

    # Pins and exclusions are saved in project.json and come back when the project is reopened.
    assert win.files.save()
    folder = win.project_path
    data = json.loads((folder / "project.json").read_text())["story"]
    assert data["memory_pins"] == [middle] and data["memory_exclusions"] == [first]
    assert win.files.open_path(folder)
    story = win.project.story
    assert story.memory_pins == [middle] and story.memory_exclusions == [first]
    win.edits.select_shots([story.shots[3].id])
    strip = win.memory_strip
    assert strip.state_of(first) == "excluded" and strip.state_of(middle) == "pinned"
    assert statuses(win)[3] == "done"


@pytest.fixture
def bank_window(window, recorded_dialogs, tmp_path):
    """Sample story with takes of 4 keyframes on shots 1-3 (memory 4, sink 1): shot 4 has a 12-keyframe bank."""
    recorded_dialogs.paths.append(str(tmp_path / "p"))
    assert window.files.save_as()
    set_memory(window, 4, 1)
    story = window.project.story
    for i in (0, 1, 2):
        add_take(window.project, i, keyframes=4)
        story.shots[i].accepted().request["memory_keys"] = [k.key for k in memory_for(story, i, 4, 1)]
    window.model.refresh_all()
    window.edits.select_shots([story.shots[3].id])
    return window


def test_keys_context_menu_clear_and_hide_unused(bank_window, qtbot):
    win = bank_window
    story = win.project.story
    strip = win.memory_strip
    bank = strip_keys(strip)
    assert len(bank) == 12 and chosen_keys(strip) == [bank[0]] + bank[-3:]
    win.show()
    win.activateWindow()
    assert QTest.qWaitForWindowActive(win)
    strip.list.setFocus()

    # P pins the selection, P again (all pinned) unpins; X excludes, X again includes.
    strip.select_keys([bank[4], bank[5]])
    QTest.keyClick(strip.list, Qt.Key.Key_P)
    assert story.memory_pins == [bank[4], bank[5]]
    assert strip.state_of(bank[4]) == strip.state_of(bank[5]) == "pinned"
    assert strip.pin_button.text() == "Unpin"
    assert "2 pinned" in strip.note.text()
    QTest.keyClick(strip.list, Qt.Key.Key_P)
    assert story.memory_pins == []
    win.undo_stack.undo()
    assert story.memory_pins == [bank[4], bank[5]]
    strip.select_keys([bank[-1]])
    QTest.keyClick(strip.list, Qt.Key.Key_X)
    assert story.memory_exclusions == [bank[-1]] and strip.exclude_button.text() == "Include"
    QTest.keyClick(strip.list, Qt.Key.Key_X)
    assert story.memory_exclusions == []
    QTest.keyClick(strip.list, Qt.Key.Key_X)
    # Excluding a pinned keyframe unpins it; pinning an excluded one includes it again.
    strip.select_keys([bank[4]])
    menu_action(strip.context_menu(), "Exclude").trigger()
    assert story.memory_pins == [bank[5]] and story.memory_exclusions == [bank[-1], bank[4]]
    menu_action(strip.context_menu(), "Pin").trigger()
    assert story.memory_pins == [bank[5], bank[4]] and story.memory_exclusions == [bank[-1]]

    # "Show unused" off hides what the shot does not use (excluded included).
    strip.show_unused.setChecked(False)
    visible = [i.data(Qt.ItemDataRole.UserRole) for i in strip.items() if not i.isHidden()]
    assert visible == chosen_keys(strip) and bank[-1] not in visible
    strip.show_unused.setChecked(True)

    # Clear drops every pin and exclusion in one undo step.
    assert strip.clear_button.isEnabled()
    strip.clear_button.click()
    assert story.memory_pins == [] and story.memory_exclusions == []
    assert chosen_keys(strip) == [bank[0]] + bank[-3:]
    win.undo_stack.undo()
    assert story.memory_pins == [bank[5], bank[4]] and story.memory_exclusions == [bank[-1]]

    # "Go to shot N" selects the shot a keyframe comes from.
    strip.select_keys([bank[4]])
    menu_action(strip.context_menu(), "Go to shot").trigger()
    assert win.current_row() == 1
    win.undo_stack.setClean()


def test_pins_that_do_not_fit_are_refused_with_a_message(bank_window, recorded_dialogs):
    win = bank_window
    story = win.project.story
    strip = win.memory_strip
    bank = strip_keys(strip)
    depth = win.undo_stack.count()

    strip.select_keys(bank[:5])  # memory holds 4
    strip.pin_button.click()
    warnings = recorded_dialogs.texts("warning")
    assert len(warnings) == 1 and "holds 4" in warnings[0] and "Unpin" in warnings[0]
    assert story.memory_pins == [] and win.undo_stack.count() == depth

    # Four pins fit; shrinking the memory afterwards makes the strip say so instead of failing.
    strip.select_keys(bank[:4])
    strip.pin_button.click()
    assert story.memory_pins == bank[:4] and chosen_keys(strip) == bank[:4]
    set_memory(win, 3, 1)
    win._show_shot(win.current_row())
    assert "unpin some" in strip.note.text() and strip.keyframes == []
    assert all(strip.state_of(k) == "pinned" for k in bank[:4])
    # Generate says so before anything starts (the engine would fail the shot after the models load).
    assert not win.generation.generate_all() and win.generation.worker is None
    assert "would have 4 pinned keyframes, but its memory holds 3" in recorded_dialogs.texts("warning")[-1]
    win.undo_stack.setClean()


def test_long_bank_lists_memory_and_newest_unused_and_decodes_off_the_ui_thread(window, recorded_dialogs, tmp_path,
                                                                                qtbot):
    from storyboard.memory_strip import ICON, MAX_UNUSED_SHOWN

    recorded_dialogs.paths.append(str(tmp_path / "p"))
    assert window.files.save_as()
    set_memory(window, 4, 1)
    story = window.project.story
    for i in (0, 1, 2):
        add_take(window.project, i, keyframes=20)
    window.model.refresh_all()
    window.edits.select_shots([story.shots[3].id])
    strip = window.memory_strip
    bank = [k.key for k in memory_bank(story, 3)]
    listed = strip_keys(strip)
    # 60 keyframes: the 4 in memory and the newest unused ones are listed; the note says how many are not.
    assert len(listed) == 4 + MAX_UNUSED_SHOWN and strip.hidden_unused == 60 - len(listed)
    assert listed == [bank[0]] + bank[-(MAX_UNUSED_SHOWN + 3):]
    assert f"{strip.hidden_unused} older unused keyframes are not listed" in strip.note.text()

    # Thumbnails arrive from the loader and replace the placeholders.
    qtbot.waitUntil(lambda: not strip.pending, timeout=10_000)
    center = strip.list.item(0).icon().pixmap(ICON).toImage().pixelColor(ICON.width() // 2, ICON.height() // 2)
    assert center.name() != "#111113" and center.saturation() > 100

    # An older keyframe is pinned from an earlier shot (where it is listed), and then shows in shot 4 too.
    old = bank[5]
    window.edits.select_shots([story.shots[1].id])
    assert strip.item_for(old) is not None
    strip.select_keys([old])
    strip.pin_button.click()
    window.edits.select_shots([story.shots[3].id])
    assert strip.state_of(old) == "pinned" and old in chosen_keys(strip)
    window.undo_stack.setClean()


def test_the_strip_and_cards_follow_the_bank_outside_a_timeline_paint(bank_window):
    from storyboard.memory import bank_frozen, bank_generation

    win = bank_window
    story = win.project.story
    before = bank_generation(story)
    assert bank_generation(story) == before and len(memory_bank(story, 3)) == 12  # nothing changed: same bank
    with bank_frozen(story):  # a paint: every card reads the one bank checked at its start
        assert len(memory_bank(story, 3)) == 12 and bank_generation(story) == before
    add_take(win.project, 3, keyframes=4)  # a new accepted take after the paint is seen at once
    assert bank_generation(story) != before and len(memory_bank(story, 4)) == 16
    win.model.refresh_all()
    win.edits.select_shots([story.shots[4].id])
    assert len(win.memory_strip.entries) > 0 and win.memory_strip.note.text().startswith("Shot 5")
    win.edits.move([story.shots[4].id], 0)  # shot 5 first: its bank is empty now, and the strip says so
    assert win.memory_strip.note.text().startswith("Shot 1 opens the story: it has no memory")
    win.edits.select_shots([story.shots[1].id])
    assert win.memory_strip.note.text() == "Shot 2 has no memory yet: no earlier shot has an accepted take."
    win.edits.select_shots([story.shots[0].id])
    win.undo_stack.undo()
    assert win.memory_strip.note.text().startswith("Shot 5's next take is conditioned on")


def test_the_strip_says_which_shots_added_no_keyframes_and_which_pins_rest(bank_window):
    """A shot whose take added no keyframe was just absent from every later strip; pins on a take no longer
    accepted applied to nothing, without a word."""
    win = bank_window
    story = win.project.story
    strip = win.memory_strip
    take = story.shots[1].accepted()
    take.keyframes, take.keyframes_note = [], "every keyframe it picked repeats an image already in memory"
    pinned = strip_keys(strip)[0]
    assert win.edits.set_memory_pinned([pinned], True)
    win.model.refresh_all()
    win.edits.select_shots([story.shots[2].id])
    win.edits.select_shots([story.shots[3].id])
    assert ("Shot 2 added no keyframes: every keyframe it picked repeats an image already in memory."
            in strip.note.text())
    # Shot 1's take is no longer accepted: its pin is kept (accepting it again brings it back), and said so.
    story.shots[0].accepted_take = None
    win.model.refresh_all()
    win.edits.select_shots([story.shots[2].id])
    assert strip.note.text().startswith("Shot 3 has no memory: Shot 2 added no keyframes")
    win.edits.select_shots([story.shots[3].id])
    assert "1 pin or exclusion belongs to a take no longer accepted: it applies again" in strip.note.text()
    assert story.memory_pins == [pinned]
