"""File > Soundtrack: check a music file, copy it into the project's music/ folder and set it (or its start and
volume, or remove it) as one undo step. A copied file stays on disk when undone, as takes' and cast files do."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard import dialogs
from storyboard.soundtrack_dialog import REMOVE, SoundtrackDialog
from storyboard.undo_commands import SetSoundtrackCommand
from storymem_engine.project import MUSIC_DIR
from storymem_engine.shot_timing import running_time
from storymem_engine.story import Soundtrack

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow

AUDIO_FILTER = "Music (*.mp3 *.wav *.m4a *.aac *.flac *.ogg *.opus *.aif *.aiff *.webm *.mka);;All files (*)"


def music_length(path: Path) -> float:
    """The file's length in seconds; SoundtrackError naming it when it is no music PyAV can read."""
    from storymem_engine.soundtrack import probe_audio  # PyAV loads only when music is chosen

    return probe_audio(path).duration_s


class SoundtrackController:
    def __init__(self, window: MainWindow) -> None:
        self.window = window

    @property
    def current(self) -> Soundtrack | None:
        return self.window.project.story.soundtrack

    def open_dialog(self) -> bool:
        from storymem_engine.soundtrack import SoundtrackError, project_music

        window = self.window
        current = self.current
        try:
            found = project_music(window.project)
        except SoundtrackError:  # a missing or damaged file: the dialog then offers another
            found = None
        length = found[2].duration_s if found is not None else None
        film = running_time(window.project.story, window.exports.cut_defaults()[0])
        dialog = SoundtrackDialog(current, length, film, self.ask_for_music, window)
        answer = dialog.exec()
        if answer == REMOVE:
            return self.remove()
        if answer != SoundtrackDialog.DialogCode.Accepted:
            return False
        source, start_s, gain_db = dialog.values()
        return self.set_music(source, start_s, gain_db)

    def ask_for_music(self) -> tuple[Path, float] | None:
        """A file chooser, then the check: (the file, its length) or None (cancelled, or said why)."""
        chosen = dialogs.open_file(self.window, "Choose the soundtrack", AUDIO_FILTER,
                                   self.window.dialog_start(inside_project=False))
        return self.checked(Path(chosen)) if chosen else None

    def checked(self, path: Path) -> tuple[Path, float] | None:
        from storymem_engine.soundtrack import SoundtrackError

        try:
            return path, music_length(path)
        except SoundtrackError as exc:
            dialogs.error(self.window, "Not a soundtrack", f"{exc}\n\nChoose a music file (MP3, WAV, M4A, FLAC, "
                          "Ogg…).")
            return None

    def set_music(self, source: Path | None, start_s: float, gain_db: float) -> bool:
        """``source``: a new (checked) file to copy in, or None to keep the current one with a new start and
        volume."""
        window = self.window
        current = self.current
        if source is None:
            if current is None or (current.start_s, current.gain_db) == (start_s, gain_db):
                return False
            self._push(Soundtrack(current.file, current.name, start_s, gain_db), "Change the soundtrack")
            return True
        if window.project_path is None and not window.files.place_unsaved():
            return False  # the music needs a project folder to be copied into
        relative = f"{MUSIC_DIR}/{uuid.uuid4().hex[:12]}{source.suffix.lower()}"
        target = window.project.folder / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        except OSError as exc:
            dialogs.error(window, "Soundtrack not set", f"{source.name} could not be copied into the project "
                          f"({exc.strerror or exc}).")
            return False
        self._push(Soundtrack(relative, source.name, start_s, gain_db),
                   "Set the soundtrack" if current is None else "Replace the soundtrack")
        window.statusBar().showMessage(f"Soundtrack: {source.name}, heard in the exported film (the preview is "
                                       "silent)", 8000)
        return True

    def remove(self) -> bool:
        if self.current is None:
            return False
        self._push(None, "Remove the soundtrack")
        return True

    def _push(self, soundtrack: Soundtrack | None, text: str) -> None:
        self.window.undo_stack.push(SetSoundtrackCommand(self.window.project.story, soundtrack, text,
                                                         self.window.schedule_status))
