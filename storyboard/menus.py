"""The window's menus and shortcuts. Actions are kept by name in ``window.actions_by_name``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPainter
from PySide6.QtWidgets import QMenu, QStyle, QToolBar

from storyboard.card_delegate import CARD_SIZE
from storyboard.compare_takes import open_compare_takes
from storyboard.file_controller import left_behind_projects, left_behind_words
from storyboard.find_replace_dialog import open_find_replace
from storyboard.help_menu import build_help_menu
from storyboard.recent import clear_recent, recent_projects
from storyboard.settings_values import names_existing
from storyboard.shortcut_passthrough import REDO_KEYS
from storyboard.undo_history import open_undo_history
from storymem_engine.project import PROJECT_FILE

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow

Keys = QKeySequence.StandardKey


def _action(window: MainWindow, menu: QMenu, name: str, text: str, slot: Callable[[], object] | None,
            shortcuts: list | None = None, timeline_only: bool = False) -> QAction:
    action = QAction(text, window)
    if shortcuts:
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    if slot is not None:
        action.triggered.connect(lambda _checked=False: slot())
    if timeline_only:
        # Del, Ctrl+D and moves act on the timeline only, so they never fire while typing a prompt.
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        window.timeline.addAction(action)
    else:
        window.addAction(action)
    menu.addAction(action)
    window.actions_by_name[name] = action
    return action


def build_menus(window: MainWindow) -> None:
    files, edits, exports = window.files, window.edits, window.exports
    bar = window.menuBar()

    file_menu = bar.addMenu("&File")
    _action(window, file_menu, "new", "&New project", files.new_project, [Keys.New])
    _action(window, file_menu, "open", "&Open…", files.open_dialog, [Keys.Open])
    window.recent_menu = file_menu.addMenu("Open &recent")
    window.recent_menu.aboutToShow.connect(lambda: fill_recent_menu(window))
    file_menu.addSeparator()
    _action(window, file_menu, "save", "&Save", files.save, [Keys.Save])
    _action(window, file_menu, "save_as", "Save &as…", files.save_as, [Keys.SaveAs])
    _action(window, file_menu, "story_details", "Story na&me and overview…", window.open_story_details).setStatusTip(
        "What titles the storyboard PDF, the exported timelines and the story script")
    file_menu.addSeparator()
    _action(window, file_menu, "soundtrack", "Soundtrac&k…", window.soundtrack.open_dialog).setStatusTip(
        "Music under the film: heard in the exported films (the preview is silent)")
    _action(window, file_menu, "import_story", "&Import story JSON…", files.import_story)
    _action(window, file_menu, "export_story", "E&xport story JSON…", files.export_story)
    _action(window, file_menu, "export_film", "Export &film (MP4)…", exports.export_film, ["Ctrl+E"])
    _action(window, file_menu, "export_selected_film", "Export the selected s&hots (MP4)…",
            exports.export_selected_film, ["Ctrl+Shift+E"]).setStatusTip(
        "The film of the selected shots alone: a scene for review, or one shot's take as trimmed")
    _action(window, file_menu, "export_review", "Export re&view copy (MP4)…", exports.export_review_copy).setStatusTip(
        "The film with each frame's shot, take and timecode burned in, for notes that point at a frame")
    _action(window, file_menu, "export_csv", "Export shot &list (CSV)…", exports.export_shot_list)
    _action(window, file_menu, "export_pdf", "Export story&board (PDF)…", exports.export_pdf)
    timeline_menu = file_menu.addMenu("Export &timeline")
    for key, text in (("otio", "&OpenTimelineIO (.otio)…"), ("fcp7", "Final Cut Pro &7 XML (.xml)…"),
                      ("fcpx", "Final Cut Pro &X XML (.fcpxml)…"), ("edl", "CMX 3600 &EDL (.edl)…")):
        _action(window, timeline_menu, f"export_{key}", text, lambda k=key: exports.export_timeline(k))
    file_menu.addSeparator()
    # Ctrl+Q spelled out: Qt's standard Quit key is empty on some Linux desktops (and offscreen), as Preferences'
    _action(window, file_menu, "quit", "&Quit", window.close, ["Ctrl+Q"])

    edit_menu = bar.addMenu("&Edit")
    undo = window.undo_stack.createUndoAction(window, "&Undo")
    undo.setShortcuts([QKeySequence(Keys.Undo)])
    redo = window.undo_stack.createRedoAction(window, "&Redo")
    redo.setShortcuts(list(REDO_KEYS))
    for name, action in (("undo", undo), ("redo", redo)):
        window.addAction(action)
        edit_menu.addAction(action)
        window.actions_by_name[name] = action
    # After the stack's own slot: the step's message (e.g. "Shot 4 now starts fresh") would otherwise stay up
    # saying the opposite of what the timeline shows.
    stack = window.undo_stack
    undo.triggered.connect(lambda: window.statusBar().showMessage(f"Undone: {stack.redoText()}", 5000))
    redo.triggered.connect(lambda: window.statusBar().showMessage(f"Redone: {stack.undoText()}", 5000))
    _action(window, edit_menu, "undo_history", "Undo &history…", lambda: open_undo_history(window), ["Ctrl+Alt+Z"])
    edit_menu.addSeparator()
    _action(window, edit_menu, "add_shot", "&Add shot at end", edits.add_shot, ["Ctrl+Shift+A"])
    _action(window, edit_menu, "insert_after", "&Insert shot after", edits.insert_after, ["Ins"],
            timeline_only=True)
    _action(window, edit_menu, "cut", "Cu&t", edits.cut, [Keys.Cut], timeline_only=True)
    _action(window, edit_menu, "copy", "&Copy", edits.copy, [Keys.Copy], timeline_only=True)
    _action(window, edit_menu, "paste", "&Paste", edits.paste, [Keys.Paste], timeline_only=True)
    _action(window, edit_menu, "duplicate", "&Duplicate", edits.duplicate, ["Ctrl+D"], timeline_only=True)
    _action(window, edit_menu, "delete", "De&lete", edits.delete, [Keys.Delete], timeline_only=True)
    edit_menu.addSeparator()
    _action(window, edit_menu, "move_left", "&Move left", lambda: edits.nudge(-1),
            ["Ctrl+Left", "Alt+Left"], timeline_only=True)
    _action(window, edit_menu, "move_right", "Move ri&ght", lambda: edits.nudge(+1),
            ["Ctrl+Right", "Alt+Right"], timeline_only=True)
    _action(window, edit_menu, "scene_cut", "Toggle &scene cut", edits.toggle_scene_cut, ["Ctrl+K"],
            timeline_only=True).setStatusTip(
        "Mark the selected shots as scene cuts (each starts fresh, from memory alone), or, when all are, "
        "let them continue the shot before")
    _action(window, edit_menu, "start_scene", "Start a &new scene here", edits.start_scene_here, ["Ctrl+Shift+K"],
            timeline_only=True).setStatusTip(
        "The current shot and the rest of its scene become the next scene (later scenes numbered one up), the "
        "shot a scene cut")
    edit_menu.addSeparator()
    _action(window, edit_menu, "select_all", "Select all sh&ots", window.timeline.selectAll, [Keys.SelectAll],
            timeline_only=True)
    _action(window, edit_menu, "select_scene", "Select the &whole scene", edits.select_scene, ["Ctrl+Alt+A"],
            timeline_only=True)
    _action(window, edit_menu, "find_replace", "&Find and replace in prompts…", lambda: open_find_replace(window),
            ["Ctrl+H"])

    generate_menu = bar.addMenu("&Generate")
    generate_menu.setToolTipsVisible(True)
    gen = window.generation
    for name, text, slot, keys, tip in (
        ("generate_shot", "Generate &shot", gen.generate_shot, ["Ctrl+G"], "Generate the selected shots as new takes"),
        ("generate_from_here", "Generate from &here", gen.generate_from_here, ["Ctrl+Shift+G"],
         "Generate the current shot and every shot after it"),
        ("generate_stale", "Regenerate s&tale shots", gen.generate_stale, ["Ctrl+Shift+R"],
         "From the first stale, failed or empty shot on, skipping shots that are already up to date"),
        ("generate_all", "Generate &all", gen.generate_all, ["Ctrl+Alt+G"], "Generate every shot again"),
        ("finalize_drafts", "&Finalize drafts", gen.finalize, ["Ctrl+Alt+F"],
         "Make every shot whose accepted take is a draft again at the Final profile, same seed, in story order; "
         "the drafts stay as older takes"),
        ("generate_cancel", "&Cancel generation", gen.cancel, ["Ctrl+Shift+X"],
         "Stop after the current denoising step"),
        ("unload_models", "&Unload models", gen.unload_models, None,
         "Free the GPU and CPU memory the loaded models hold; the next Generate loads them again"),
    ):
        action = _action(window, generate_menu, name, text, slot, keys)
        action.setToolTip(tip)
        action.setStatusTip(tip)
    generate_menu.addSeparator()
    action = _action(window, generate_menu, "render_settings", "&Render settings…", window.open_render_settings,
                     ["Ctrl+Shift+,"])
    action.setToolTip("This project's size, frames, steps, guidance, seeds, continuation, memory and offload "
                      "(saved with it)")
    gen.update_actions(running=False)
    build_toolbar(window)

    play_menu = bar.addMenu("&Playback")
    for name, text, slot, key in (("play_pause", "&Play / pause", window.playback.play_pause, "Space"),
                                  ("play_cut", "Play the &cut from here", window.playback.play_cut, "Shift+Space")):
        # On the timeline and in the preview: Space in a prompt or a note types a space.
        action = _action(window, play_menu, name, text, slot, [key], timeline_only=True)
        window.preview.addAction(action)
    loop = _action(window, play_menu, "loop", "&Loop", window.preview.player.loop.toggle, ["Ctrl+L"])
    loop.setCheckable(True)
    window.preview.player.loop.toggled.connect(loop.setChecked)
    loop.setStatusTip("Play the shown clip again and again (between its in and out points)")
    play_menu.addSeparator()
    # An editor's keys for in and out points (I, O, Alt+X), on the timeline and in the preview as Space is.
    for name, text, slot, key, tip in (
        ("set_in", "Set &in point", window.trim.set_in, "I",
         "The shown take starts on the cut at the player's frame (the film, playback and hand-offs follow)"),
        ("set_out", "Set &out point", window.trim.set_out, "O",
         "The shown take ends on the cut at the player's frame"),
        ("clear_trim", "Clea&r in and out points", window.trim.clear, "Alt+X",
         "The shown take plays whole on the cut again"),
        ("go_to_in", "&Go to in point", lambda: window.playback.go_to_point("in"), "Shift+I",
         "The shown take's first frame on the cut"),
        ("go_to_out", "Go to o&ut point", lambda: window.playback.go_to_point("out"), "Shift+O",
         "The shown take's last frame on the cut"),
        ("previous_frame", "Pre&vious frame", lambda: window.playback.step(-1), ",", "One frame back, paused"),
        ("next_frame", "&Next frame", lambda: window.playback.step(+1), ".", "One frame on, paused"),
    ):
        action = _action(window, play_menu, name, text, slot, [key], timeline_only=True)
        action.setStatusTip(tip)
        window.preview.addAction(action)
    play_menu.addSeparator()
    compare = _action(window, play_menu, "compare_takes", "Compar&e takes…", lambda: open_compare_takes(window),
                      ["Ctrl+Shift+T"])
    compare.setStatusTip("Two takes of the shown shot side by side, playing together, with Accept under each")
    frames = window.frame_actions
    to_cast = _action(window, play_menu, "frame_to_cast", "Add the frame to the ca&st", lambda: frames.add_to_cast())
    to_cast.setStatusTip("The frame shown in the preview becomes a new cast member (right-click the picture to add "
                         "it to a member's images)")
    _action(window, play_menu, "save_frame", "Save the frame &as PNG…", lambda: frames.save_png())
    play_menu.addSeparator()
    full = _action(window, play_menu, "full_screen", "&Full-screen preview", lambda: window.full_screen.toggle(),
                   ["F11"])
    full.setStatusTip("The preview alone on the screen (or a double-click on the picture); Esc comes back")

    view_menu = bar.addMenu("&View")
    for name, text, steps, keys in (("zoom_in", "Zoom timeline &in", +1, ["Ctrl+=", "Ctrl++"]),
                                    ("zoom_out", "Zoom timeline &out", -1, ["Ctrl+-"]),
                                    ("zoom_reset", "&Normal card size", 0, ["Ctrl+0"])):
        _action(window, view_menu, name, text, lambda s=steps: zoom_timeline(window, s), keys)

    window.timeline.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    window.timeline.customContextMenuRequested.connect(lambda pos: show_timeline_menu(window, pos))

    settings_menu = bar.addMenu("&Settings")
    # Ctrl+, (Cmd+, on macOS): Qt's standard Preferences key is empty on Linux, which left no shortcut at all.
    _action(window, settings_menu, "settings", "&Preferences…", window.open_settings, ["Ctrl+,"])
    build_help_menu(window)


def zoom_timeline(window: MainWindow, steps: int) -> None:
    """Narrower cards show more of a long story at once (``steps`` 0: the normal size)."""
    timeline = window.timeline
    before = timeline.card_width()
    width = timeline.zoom(steps) if steps else timeline.set_card_width(CARD_SIZE.width())
    shown = max(timeline.viewport().width() // (width + 2 * timeline.spacing()), 1)
    if steps and width == before:  # nothing changed: say why, rather than announce the same width again
        limit = "widest (the normal size)" if steps > 0 else "narrowest"
        window.statusBar().showMessage(f"Timeline cards are at their {limit}: {width} px, about {shown} in view",
                                       5000)
        return
    window.statusBar().showMessage(f"Timeline cards {width} px wide: about {shown} in view (Ctrl+0: normal size)",
                                   5000)


# A right-click on a card (the card is selected first, as Qt's views do) or on the empty strip: the menus' own
# actions, so the keys shown and what they do never drift apart.
CARD_MENU = ("generate_shot", "generate_from_here", None, "cut", "copy", "paste", "duplicate", "insert_after", "delete",
             None, "scene_cut", "select_scene", "move_left", "move_right")
STRIP_MENU = ("paste", "add_shot")


def timeline_menu(window: MainWindow, on_card: bool) -> QMenu:
    menu = QMenu(window.timeline)
    for name in CARD_MENU if on_card else STRIP_MENU:
        if name is None:
            menu.addSeparator()
        else:
            menu.addAction(window.actions_by_name[name])
    return menu


def show_timeline_menu(window: MainWindow, pos) -> None:
    menu = timeline_menu(window, window.timeline.indexAt(pos).isValid())
    menu.exec(window.timeline.viewport().mapToGlobal(pos))
    menu.deleteLater()  # a child of the timeline: one per right-click would pile up


_ICON = QStyle.StandardPixmap
LIGHT, STOP_RED = "#e4e4e7", "#f87171"
TOOLBAR = (("generate_shot", _ICON.SP_MediaPlay), ("generate_from_here", _ICON.SP_MediaSeekForward),
           ("generate_all", _ICON.SP_MediaSkipForward), ("generate_stale", _ICON.SP_BrowserReload),
           ("generate_cancel", _ICON.SP_MediaStop), ("export_film", _ICON.SP_DialogSaveButton))


def build_toolbar(window: MainWindow) -> QToolBar:
    """Generate in view, not only in a menu: the generation actions and Export film, icon and text, with each
    action's shortcut in its tooltip."""
    bar = window.addToolBar("Generate")
    bar.setObjectName("generate_toolbar")
    bar.setMovable(False)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for name, icon in TOOLBAR:
        action = window.actions_by_name[name]
        standard = window.style().standardIcon(icon)
        # The style's media glyphs are dark grey: on the dark theme they need to be light to be seen. Stop is a
        # plain square, which in light grey read as an unchecked checkbox beside "Cancel generation": red.
        if icon.name.startswith("SP_Media"):
            standard = _tinted(standard, STOP_RED if icon == _ICON.SP_MediaStop else LIGHT)
        action.setIcon(standard)
        label = action.text().replace("&", "").rstrip("…")
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        tip = action.toolTip() if action.toolTip().rstrip("…") not in (action.text(), label) else ""
        action.setToolTip((f"{label} ({keys})" if keys else label) + (f": {tip}" if tip else ""))
        bar.addAction(action)
    return bar


def _tinted(icon: QIcon, color: str) -> QIcon:
    """The icon's shape in one colour (its alpha kept), at the sizes a toolbar asks for."""
    tinted = QIcon()
    for side in (16, 24, 32):
        pixmap = icon.pixmap(side, side)
        painter = QPainter(pixmap)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
        painter.fillRect(pixmap.rect(), QColor(color))
        painter.end()
        tinted.addPixmap(pixmap)
    return tinted


def fill_recent_menu(window: MainWindow) -> None:
    menu = window.recent_menu
    menu.clear()
    paths = recent_projects()
    menu.setToolTipsVisible(True)
    # Unsaved projects a crash left: asked about only at a start without a file; here they can always be found.
    left = left_behind_projects()
    for folder, story in left:
        action = menu.addAction(f"“{story.name}”  (not saved: left when StoryMem Studio closed)")
        action.setToolTip(f"{left_behind_words(folder, story)}\nKept in the app's data folder ({folder}); reopen it "
                          "and File > Save As keeps it where you choose")
        action.triggered.connect(lambda _checked=False, p=str(folder): window.open_recent(p))
    if left and paths:
        menu.addSeparator()
    for path in paths:
        # A project gone (moved, deleted) or left without its project.json says why it is greyed out.
        there = names_existing(str(Path(path) / PROJECT_FILE)) if names_existing(path, folder=True) else \
            names_existing(path)
        action = menu.addAction(path if there else f"{path}  (not found)")
        action.setEnabled(there)
        if not there:
            action.setToolTip("Moved, renamed or deleted since it was opened: File > Open finds it where it is now")
        action.triggered.connect(lambda _checked=False, p=path: window.open_recent(p))
    if paths:
        menu.addSeparator()
        menu.addAction("Clear list", clear_recent)
    elif not left:
        menu.addAction("(none)").setEnabled(False)
