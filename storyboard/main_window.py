"""The main window: timeline strip, shot inspector, preview with takes, memory strip, status bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelection, QModelIndex, QObject, QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent, QUndoStack
from PySide6.QtWidgets import (
    QFrame,
    QMainWindow,
    QMenu,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from storyboard import dialogs, last_shot, window_geometry
from storyboard.app_settings import AppSettings
from storyboard.cast_controller import CastController
from storyboard.cast_panel import CastPanel
from storyboard.compare_takes import open_compare_takes
from storyboard.edit_controller import EditController
from storyboard.export_controller import ExportController
from storyboard.file_controller import PROJECT_SUFFIX, FileController
from storyboard.file_drops import local_files, openable_drop
from storyboard.file_names import UNTITLED_STORY, file_name_from
from storyboard.find_replace_dialog import FindReplaceDialog
from storyboard.frame_actions import FrameActions
from storyboard.full_screen_preview import FullScreenPreview
from storyboard.generation_controller import GenerationController
from storyboard.inspector import ShotInspector
from storyboard.memory_strip import MemoryStrip
from storyboard.menus import build_menus
from storyboard.note_label import NoteLabel
from storyboard.playback import Playback
from storyboard.preview_panel import PreviewPanel
from storyboard.render_settings_dialog import RenderSettingsDialog
from storyboard.settings_dialog import SettingsDialog
from storyboard.settings_values import names_existing, text_value
from storyboard.shot_numbers import shots_in_words
from storyboard.soundtrack_controller import SoundtrackController
from storyboard.status_summary import StatusSummary
from storyboard.story_details_dialog import StoryDetailsDialog
from storyboard.take_trim import TakeTrim
from storyboard.timeline_model import ShotRole, TimelineModel
from storyboard.timeline_view import TimelineView
from storyboard.undo_commands import SetRenderSettingsCommand, SetStoryDetailsCommand
from storyboard.undo_history import UndoHistoryDialog
from storyboard.unsaved_projects import is_unsaved
from storymem_engine.project import PROJECT_FILE, Project, is_project_file
from storymem_engine.render_settings import RenderSettings
from storymem_engine.shot_timing import FPS, clock, running_time, seconds, shot_frames
from storymem_engine.story import Shot, Story
from storymem_engine.words import counted

APP_NAME = "StoryMem Studio"
AUTOSAVE_MS = 60_000
CARD_ONLY_ROLES = {ShotRole.PROGRESS, ShotRole.THUMBNAIL}
# From this height of the panels above the timeline the Memory and Cast tabs go under the preview; below it, beside
# it. Stacked on a 1440x900 window the clip played 128 px tall and the keyframes were scrolled out of view (at
# 1280x720 only their note showed): a take and its memory could not be seen together.
TABS_UNDER_PREVIEW_FROM = 860
PREVIEW_SHARE_BESIDE = 0.5  # of the column, beside the tabs


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or AppSettings.load()
        self.project = Project(folder=Path(), story=Story(name=UNTITLED_STORY))
        self.project_path: Path | None = None
        self.actions_by_name: dict[str, QAction] = {}
        self.recent_menu: QMenu | None = None
        self.undo_stack = QUndoStack(self)
        self.find_replace_dialog: FindReplaceDialog | None = None  # made on first use (Edit menu)
        self.undo_history_dialog: UndoHistoryDialog | None = None  # made on first use (Edit menu)
        self.model = TimelineModel(self.project, self)

        self.timeline = TimelineView()
        self.timeline.setModel(self.model)
        self.inspector = ShotInspector()
        self.preview = PreviewPanel()
        self.memory_strip = MemoryStrip()
        self.cast_panel = CastPanel()
        self._build_layout()
        self.shot_count_label = StatusSummary(self.statusBar())
        # The counts in the status bar are written once per event-loop pass, after the timeline has painted: one
        # drop in a 1,000-shot story asked for them 4 times (~1 ms each) before the cards could move.
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(0)
        self._status_timer.timeout.connect(self._write_status)
        self._unsaved: tuple[Path | None, bool] = (None, False)
        self.apply_settings()

        self.files = FileController(self)
        self.edits = EditController(self)
        self.exports = ExportController(self)
        self.generation = GenerationController(self)
        self.casting = CastController(self)
        self.playback = Playback(self)
        self.trim = TakeTrim(self)
        self.soundtrack = SoundtrackController(self)
        self.preview.player.trim_bar.point_dragged.connect(self.trim.drag)
        self.frame_actions = FrameActions(self)
        build_menus(self)
        self.full_screen = FullScreenPreview(self)  # after the menus: it takes their playback keys along
        self.preview.player.screen_double_clicked.connect(self.full_screen.toggle)

        self.timeline.selectionModel().currentChanged.connect(self._current_changed)
        self.timeline.selectionModel().selectionChanged.connect(self._selection_changed)
        self.timeline.move_requested.connect(self.edits.move)
        self.inspector.edit_requested.connect(self.edits.edit_selected)
        # Enter (or a double-click) on a card edits its prompt; Esc there, or in any panel, comes back to the cards.
        self.timeline.activated.connect(lambda _index: self.inspector.edit_prompt())
        self.preview.accept_requested.connect(self.edits.accept_take)
        self.preview.delete_requested.connect(self.edits.delete_take)
        self.preview.compare_requested.connect(lambda: open_compare_takes(self))
        self.memory_strip.pin_requested.connect(self.edits.set_memory_pinned)
        self.memory_strip.exclude_requested.connect(self.edits.set_memory_excluded)
        self.memory_strip.clear_requested.connect(self.edits.clear_memory_choices)
        self.memory_strip.shot_requested.connect(lambda shot_id: self.edits.select_shots([shot_id]))
        self._preview_key: tuple = ()
        self.model.dataChanged.connect(self._data_changed)
        # layoutChanged too: a drag, a nudge and their undo reorder in one layout change (set_order).
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.rowsMoved,
                       self.model.modelReset, self.model.layoutChanged):
            signal.connect(self._structure_changed)
        self.undo_stack.cleanChanged.connect(self._undo_state_changed)
        self.undo_stack.indexChanged.connect(self._undo_state_changed)

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.files.autosave)
        self.autosave_timer.start()
        self.resize(1440, 900)
        self.setAcceptDrops(True)  # a project folder or story script dropped from the file manager opens
        self.set_project(self.project, None)

    # ------------------------------------------------------------ layout
    def _build_layout(self) -> None:
        right = QSplitter(Qt.Orientation.Vertical)
        right.setObjectName("preview_below_splitter")
        right.addWidget(self.preview)
        self.lower_tabs = QTabWidget()
        self.lower_tabs.setObjectName("memory_cast_tabs")
        self.lower_tabs.addTab(self.memory_strip, "Memory")
        self.lower_tabs.addTab(self.cast_panel, "Cast")
        for box in (self.memory_strip, self.cast_panel):
            box.setTitle("")  # the tab names them
        right.addWidget(self.lower_tabs)
        right.setStretchFactor(0, 1)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.setObjectName("inspector_beside_splitter")
        top.addWidget(self.inspector)
        top.addWidget(right)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 3)
        top.setSizes([560, 840])
        # Below their natural height (a 768-px laptop screen) the panels above the timeline scroll, and the window
        # still fits the screen with the timeline in view; they asked for ~570 px, the window for 930.
        self.top_scroll = QScrollArea()
        self.top_scroll.setObjectName("panels_scroll")
        self.top_scroll.setWidget(top)
        self.splitters = (top, right)  # their handles' places are remembered with the window (window_geometry)
        self.top_scroll.viewport().installEventFilter(self)  # its height decides where the tabs go
        self.top_scroll.setWidgetResizable(True)
        self.top_scroll.setFrameShape(QFrame.Shape.NoFrame)
        # Not a stop on the Tab chain: it took the keys at start, where the timeline's shortcuts never reached.
        self.top_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 2)
        layout.addWidget(self.top_scroll, 1)
        # Wrapped on a narrow window: the line alone was wider than a window may be made.
        timeline_label = NoteLabel("Timeline — drag cards to reorder, Ctrl+←/→ to nudge, Enter to edit the prompt, "
                                   "Del to delete, Space to play, right-click for more")
        layout.addWidget(timeline_label)
        layout.addWidget(self.timeline)
        self.setCentralWidget(central)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.top_scroll.viewport():
            # After this resize is laid out: a new orientation in the middle of it was laid out at the old size.
            QTimer.singleShot(0, self.arrange_panels)
        return super().eventFilter(watched, event)

    def arrange_panels(self) -> None:
        """The Memory and Cast tabs under the preview on a tall window, beside it on a short one (their buttons in
        two rows there, in a column half as wide)."""
        right = self.splitters[1]
        beside = self.top_scroll.viewport().height() < TABS_UNDER_PREVIEW_FROM
        wanted = Qt.Orientation.Horizontal if beside else Qt.Orientation.Vertical
        for panel in (self.memory_strip, self.cast_panel):  # also when the window reopened divided this way
            panel.set_narrow(beside)
        right.setStretchFactor(1, 1 if beside else 0)  # a wider window widens both; a taller one, the clip
        if right.orientation() == wanted:
            return
        right.setOrientation(wanted)
        # Sizes kept from the other orientation would be widths used as heights: each starts from its own share.
        if beside:
            first = int(right.width() * PREVIEW_SHARE_BESIDE)
            right.setSizes([first, right.width() - first])
        else:
            tabs = self.lower_tabs.sizeHint().height()
            right.setSizes([max(right.height() - tabs, 1), tabs])

    # ------------------------------------------------------------ project
    def set_project(self, project: Project, path: Path | None, modified: bool = False) -> None:
        """Show a project. ``path`` is its folder, None while it was never saved."""
        self.preview.player.stop_autoplay()  # a cut playing in the last project does not go on in this one
        left_on = last_shot.recall(Path(path)) if path is not None else ""  # before the new rows move the current
        self.project = project
        self.project_path = Path(path) if path is not None else None
        self.files.project_shown(project)
        self.undo_stack.clear()
        if project.settings is None:
            # A new project, or one saved before projects kept their settings: the preferences' defaults, saved
            # with it from now on.
            project.settings = self.settings.render_defaults()
        self.model.set_project(project)
        self.apply_settings()
        self._show_cast()
        if modified:
            self.undo_stack.resetClean()
        else:  # clear() on an empty stack keeps a resetClean() of the last project: this one would look edited
            self.undo_stack.setClean()
        if self.model.rowCount():
            ids = self.model.shot_ids()
            self.edits.select_shots([left_on if left_on in ids else ids[0]])
        else:
            self._show_shot(None)
        # The keys start on the cards: arrows, Del, Ctrl+K and Space act on shot 1 without a click first.
        self.timeline.setFocus(Qt.FocusReason.OtherFocusReason)
        self.update_title()

    def display_name(self) -> str:
        if self.project_path is not None and not self._is_unsaved():
            name = self.project_path.name
            return name[: -len(PROJECT_SUFFIX)] if name.endswith(PROJECT_SUFFIX) else name
        return self.project.story.name or UNTITLED_STORY

    def update_title(self) -> None:
        suffix = "" if self.project_path is not None and not self._is_unsaved() else " (not saved yet)"
        self.setWindowTitle(f"{self.display_name()}[*]{suffix} — {APP_NAME}")
        if self.undo_history_dialog is not None:  # saved somewhere now, or a never-saved project opened
            self.undo_history_dialog.refresh_saved_mark()
        self.setWindowModified(not self.undo_stack.isClean())
        self.schedule_status()

    def _undo_state_changed(self, *_args) -> None:
        self.update_title()

    def open_recent(self, path: str) -> None:
        if self.files.maybe_save():
            self.files.open_path(path)

    # ------------------------------------------------------------ a project or story dropped from the file manager
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if openable_drop(local_files(event.mimeData())) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = openable_drop(local_files(event.mimeData()))
        if path is None:
            return
        event.acceptProposedAction()
        # After the drop has ended: a "save changes?" question inside the handler would hold the file manager's drag.
        QTimer.singleShot(0, lambda: self.open_recent(str(path)))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.files.look_for_outside_takes()

    # ------------------------------------------------------------ selection -> panels
    def current_row(self) -> int | None:
        index = self.timeline.currentIndex()
        return index.row() if index.isValid() else None

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_shot(current.row() if current.isValid() else None)
        if current.isValid() and self.project_path is not None and not self._is_unsaved():
            last_shot.remember(self.project_path, self.model.shot_at(current.row()).id)

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show_selection()
        self.schedule_status()

    def _show_selection(self) -> None:
        """The inspector's title and note: the shown shot, and whether its settings go to other selected shots."""
        row = self.current_row()
        rows = self.edits.selected_rows()
        many = row is not None and row in rows and len(rows) > 1
        self.inspector.setTitle("Shot" if row is None else f"Shot {row + 1}" + (
            f"  ·  {len(rows)} selected" if many else ""))
        if many:
            self.inspector.show_selection([self.model.shot_at(r) for r in rows], shots_in_words(rows))
        else:
            self.inspector.show_selection([], "")

    def _show_cast(self) -> None:
        self.cast_panel.show_cast(self.project)
        count = len(self.project.story.cast)
        self.lower_tabs.setTabText(1, f"Cast ({count})" if count else "Cast")

    def cast_changed(self) -> None:
        """The cast changed (or an edit was undone): stale marks, chips, memory and the panels follow."""
        self._show_cast()
        self.model.refresh_all()
        row = self.current_row()
        self._refresh_memory(row)
        self._show_shot_cast(row)

    def _show_shot_cast(self, row: int | None) -> None:
        self.inspector.show_cast(self.model.index(row).data(ShotRole.CAST) or [] if row is not None else [])

    def _show_shot(self, row: int | None) -> None:
        shot: Shot | None = self.model.shot_at(row) if row is not None else None
        self.inspector.set_shot(shot)
        self._show_shot_cast(row)
        self._show_selection()
        self.preview.set_shot(self.project, shot)
        self._preview_key = self._take_key(shot)
        self.full_screen.refresh_caption()  # the shot now playing, when the timeline is out of sight
        self._refresh_memory(row)
        self.schedule_status()

    @staticmethod
    def _take_key(shot: Shot | None) -> tuple:
        return () if shot is None else (shot.id, shot.accepted_take, tuple(t.id for t in shot.takes))

    def _data_changed(self, _first=None, _last=None, roles=()) -> None:
        # Per-step progress and arriving thumbnails only repaint cards; nothing in the panels depends on them.
        if roles and set(roles) <= CARD_ONLY_ROLES:
            return
        row = self.current_row()
        self.inspector.refresh()
        self._show_selection()  # the selected shots may differ in other settings now
        shot = self.model.shot_at(row) if row is not None else None
        if self._take_key(shot) != self._preview_key:
            self.preview.set_shot(self.project, shot)
            self._preview_key = self._take_key(shot)
        else:
            self.preview.refresh_trim()  # an in or out point set or undone: no new decode
        self._refresh_memory(row)
        self.schedule_status()

    def _structure_changed(self, *_args) -> None:
        row = self.current_row()
        shot = self.model.shot_at(row) if row is not None else None
        if shot is not self.inspector.shot:
            self._show_shot(row)
        else:
            self._show_selection()
            self._refresh_memory(row)
            self._show_shot_cast(row)
        self._show_cast()  # a member's range follows the order: its description may change
        self.schedule_status()

    def _refresh_memory(self, row: int | None) -> None:
        # A no-op unless the shot's bank, memory, pins or exclusions changed.
        render = self.render_settings()
        self.memory_strip.show_for(self.project, row, render.memory_size, render.memory_sink)

    def schedule_status(self) -> None:
        """The status bar's summary is written again once the event loop turns (many changes, one write)."""
        self._status_timer.start()

    def _is_unsaved(self) -> bool:
        """Whether the open project lives in the app's unsaved-projects folder (realpath once per project path)."""
        if self._unsaved[0] != self.project_path:
            self._unsaved = (self.project_path, is_unsaved(self.project_path))
        return self._unsaved[1]

    def _write_status(self) -> None:
        shots = self.project.story.shots
        scenes = len({s.scene_num for s in shots})  # scene 1 split by a moved shot is still one scene
        with_takes = sum(1 for s in shots if s.accepted() is not None)
        selected = len(self.timeline.selectionModel().selectedIndexes())
        # The folder's name only: a full path left the status messages beside it no room (cut off mid-word).
        where = self.project_path.name if self.project_path else "not saved yet"
        saved_at = f"\nSaved in {self.project_path / PROJECT_FILE}" if self.project_path else ""
        if self._is_unsaved():
            # Short: the longer words left a status message beside it room for half a sentence at 1280 px.
            where = "not saved yet"
            saved_at = (f"\nNot saved yet: kept in the app's data folder ({self.project_path}) until File > Save "
                        "As")
        # The cut's running time as the film export times it: accepted takes, else the animatic cards.
        frames = self.exports.cut_defaults()[0]
        runtime = clock(running_time(self.project.story, frames))
        rows = self.edits.selected_rows() if selected > 1 else []
        chosen = f" ({clock(seconds(sum(shot_frames(shots[r], frames) for r in rows)))})" if rows else ""
        music = self.project.story.soundtrack
        heard = f" · ♪ {music.name}" if music is not None else ""
        self.shot_count_label.setText(f"{counted(len(shots), 'shot')} · {counted(scenes, 'scene')} · {runtime}{heard}"
                                      f" · {counted(with_takes, 'accepted take')} · {selected} selected{chosen} · "
                                      f"{where}")
        self.shot_count_label.setToolTip(
            f"Running time of the cut at {FPS} fps: each shot's accepted take, else its animatic card (the film "
            "export's length)" + (f"\nSoundtrack: {music.name}, from {clock(music.start_s)} into it, "
                                  f"{music.gain_db:+.1f} dB: heard in the exported films; the preview is silent "
                                  "(File > Soundtrack)" if music is not None else "") + saved_at)

    # ------------------------------------------------------------ settings
    def render_settings(self) -> RenderSettings:
        """How the open project renders (its own settings; the preferences' defaults until it has some)."""
        return self.project.settings or self.settings.render_defaults()

    def generation_settings(self, engine: str | None = None) -> RenderSettings:
        """What the engine (the preferences' one, or ``engine``) really gets: the tiny engine drafts size, frames
        and steps left at production values."""
        render = self.render_settings()
        return render.drafted() if (engine or self.settings.engine) == "tiny" else render

    def draft_unavailable(self) -> str:
        """Why the Draft profile cannot run with the chosen engine ("" when it can)."""
        if self.settings.engine == "tiny":
            return ""  # the tiny engine builds its own distilled LoRAs
        if not self.settings.models_folder:
            return "no models folder is set (Settings > Models folder)"
        from storymem_engine.models import distill_lora_missing

        missing = distill_lora_missing(self.settings.models_folder)
        if not missing:
            return ""
        return (f"the distilled LoRAs are not in the models folder ({', '.join(missing)}); Settings > Check models "
                "shows the download command")

    def apply_settings(self) -> None:
        render = self.render_settings()
        self.model.memory_size = render.memory_size
        self.model.memory_sink = render.memory_sink
        self.model.continuation = render.continuation
        self.model.refresh_all()
        # What a shot without its own values really gets (the tiny engine's draft included).
        drafted = self.generation_settings()
        self.inspector.set_defaults(drafted.frames, drafted.steps, drafted.guidance)
        self.inspector.set_continuation(render.continuation)

    def open_settings(self) -> bool:
        """The Settings dialog; True when it was closed with OK (its values applied and saved)."""
        dialog = SettingsDialog(self.settings, self, draft_unavailable=self.draft_unavailable())
        if not dialog.exec():
            return False
        self.settings = dialog.values()
        self.settings.save()
        self.apply_settings()
        self._show_shot(self.current_row())
        return True

    def open_render_settings(self) -> None:
        dialog = RenderSettingsDialog(self.render_settings(), self.display_name(), self.settings.engine, self,
                                      draft_unavailable=self.draft_unavailable())
        if dialog.exec() and dialog.values() != self.render_settings():
            self.undo_stack.push(SetRenderSettingsCommand(self.project, dialog.values(), self.render_settings_changed))
            if self.generation.busy and self.generation.job_project is self.project:
                # The queue renders the snapshot it was given: otherwise the inspector's new defaults read as the
                # values the shot being made now gets.
                self.statusBar().showMessage("Render settings changed: the running generation keeps the settings it "
                                             "started with; they apply from the next Generate.", 15_000)

    def open_story_details(self) -> None:
        story = self.project.story
        dialog = StoryDetailsDialog(story.name, story.overview, self)
        if dialog.exec() and dialog.values() != (story.name, story.overview):
            self.undo_stack.push(SetStoryDetailsCommand(story, *dialog.values(), self.update_title))

    def render_settings_changed(self) -> None:
        self.apply_settings()
        self._show_shot(self.current_row())

    # ------------------------------------------------------------ file dialogs
    def dialog_start(self, name: str = "", inside_project: bool = True) -> str:
        """Where a file dialog opens: the project's folder (its parent for projects themselves), else the folder
        last used, else the user's Videos folder or home - never the folder the app was started from."""
        if self.project_path is not None and not self._is_unsaved():
            folder = self.project_path if inside_project else self.project_path.parent
        else:
            last = text_value(QSettings(), "paths/last_folder")
            movies = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation)
            folder = next((Path(p) for p in (last, movies) if names_existing(p, folder=True)), Path.home())
        return str(folder / name) if name else str(folder)

    def remember_folder(self, chosen: str | Path) -> None:
        path = Path(chosen)
        try:
            folder = path if path.is_dir() else path.parent
            # A project's project.json opened, a take's image attached: the next dialog starts beside the project,
            # not inside it (a Save As there was refused as "inside the project").
            folder = next((p.parent for p in (folder, *folder.parents) if (p / PROJECT_FILE).is_file()), folder)
        except OSError:  # a name too long for the file system: the write that follows says so
            folder = path.parent
        QSettings().setValue("paths/last_folder", str(folder))

    # ------------------------------------------------------------ export paths
    def ask_export_path(self, title: str, name_filter: str, suffix: str, name: str = "") -> Path | None:
        """Ask where to write (``name``: the file name offered, else the project's); never overwrite an existing
        file without asking."""
        file_name = file_name_from(name or self.display_name()) + suffix
        # The folder the last export went to (an "exports" folder beside the project, a shared drive), else the
        # project's own.
        last = text_value(QSettings(), "paths/last_export_folder")
        start = str(Path(last) / file_name) if last and names_existing(last, folder=True) else \
            self.dialog_start(file_name)
        chosen = dialogs.save_file(self, title, name_filter, start)
        if not chosen:
            return None
        self.remember_folder(chosen)
        QSettings().setValue("paths/last_export_folder", str(Path(chosen).parent))
        path = Path(chosen)
        if path.suffix.lower() != suffix:
            path = path.with_name(path.name + suffix)
        if is_project_file(path):
            # Replacing it (a story script saved as project.json) left the project unopenable.
            dialogs.error(self, title, f"{path} is a StoryMem project's own file: choose another name.")
            return None
        try:
            exists = path.exists()
        except OSError as exc:  # a name too long: said now, not as a traceback
            dialogs.error(self, title, f"Cannot write {path.name[:60]}…: {exc.strerror or exc}")
            return None
        if exists and not dialogs.ask_yes_no(self, "Replace file?", f"{path} exists. Replace it?"):
            return None
        return path

    # ------------------------------------------------------------ closing
    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Esc reaches the window when the field holding the keys has no use for it (a closed combo box, a spin
        # box, a list, the prompt): the cards take the keys again, wherever Tab had gone.
        if event.key() == Qt.Key.Key_Escape and event.modifiers() == Qt.KeyboardModifier.NoModifier \
                and not self.timeline.hasFocus():
            self.timeline.setFocus(Qt.FocusReason.ShortcutFocusReason)
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        # The engine stops only once closing is certain: Cancel at the save question keeps its models loaded.
        if self.generation.maybe_stop() and self.files.maybe_save():
            if self.generation.worker is not None:
                self.statusBar().showMessage("Stopping the engine process…")  # a few seconds with models loaded
                self.statusBar().repaint()
            self.generation.stop()
            self.full_screen.leave()
            self.autosave_timer.stop()
            window_geometry.save(self)
            self.files.hold(None)  # another window of this app may open the project now
            event.accept()
        else:
            event.ignore()
