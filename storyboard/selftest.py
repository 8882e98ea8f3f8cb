"""``--selftest``: generate one shot on the tiny engine through the app's real generation path.

It opens the main window (offscreen unless QT_QPA_PLATFORM says otherwise), saves a one-shot
project into a temporary folder, runs Generate > All on the worker thread with the tiny
random-weight engine, and checks the take it gets back: the clip decodes to the expected number
of frames and project.json on disk records it. It proves that an install or a bundle can load
torch, diffusers, transformers, peft, open_clip and PyAV and write video, with no models and no
network. Nothing blocks (dialogs print instead), nothing of the user's settings, recent list or
logs changes, and the outcome is one line: ``selftest ok: ...`` (exit 0) or ``selftest FAILED: ...``
(exit 1).

torch and diffusers load only in the engine process, like in normal use: the selftest fails if the
editor's own process imported torch.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from storymem_engine.words import counted

SIZE = "64x48"
FRAMES = 9
STEPS = 2
TIMEOUT_S = 600.0
PROMPT = "a lighthouse at dusk, waves breaking on the rocks"


class SelftestError(RuntimeError):
    pass


def prepare_environment() -> Path:
    """Call before the QApplication exists: offscreen Qt, offline hub, temporary cache and data folders."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    scratch = Path(tempfile.mkdtemp(prefix="storymem-selftest-"))
    # The tiny models are built here unless the caller points STORYMEM_CACHE at a cache to reuse.
    os.environ.setdefault("STORYMEM_CACHE", str(scratch / "cache"))
    # A failure log goes to the app data folder: keep it out of the user's (Linux/XDG).
    os.environ["XDG_DATA_HOME"] = str(scratch / "data")
    return scratch


def isolate_settings(scratch: Path) -> None:
    """Call after the QApplication exists: QSettings (settings, recent projects) in the scratch folder."""
    from PySide6.QtCore import QCoreApplication, QSettings

    QCoreApplication.setApplicationName(QCoreApplication.applicationName() + " selftest")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(scratch / "settings"))


def run_selftest(scratch: Path, timeout_s: float = TIMEOUT_S) -> int:
    """Run the check (a QApplication must exist), print one line, remove ``scratch``; 0 ok, 1 failed."""
    from storyboard import dialogs

    dialogs.set_interactive(False)
    started = time.monotonic()
    try:
        summary = _generate_one_shot(scratch, timeout_s)
    except Exception as exc:  # noqa: BLE001 - any failure is the selftest's answer, on one line
        text = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, SelftestError):
            text = f"{type(exc).__name__}: {text}"
        print(f"selftest FAILED after {time.monotonic() - started:.1f} s: {text}", file=sys.stderr, flush=True)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"selftest ok: {summary}, {time.monotonic() - started:.1f} s", flush=True)
    return 0


def _generate_one_shot(scratch: Path, timeout_s: float) -> str:
    from storyboard.app_settings import AppSettings
    from storyboard.frames import decode_clip
    from storyboard.main_window import MainWindow
    from storymem_engine.project import Project, load_project
    from storymem_engine.story import Shot, Story

    settings = AppSettings(engine="tiny", default_size=SIZE, default_frames=FRAMES, default_steps=STEPS)
    folder = scratch / "selftest.storymem"
    story = Story(name="Selftest", shots=[Shot(prompt=PROMPT, cut=True, scene_num=1)])
    Project(folder=folder, story=story).save()

    window = MainWindow(settings)
    try:
        if not window.files.open_project(folder):
            raise SelftestError(f"the app could not open the selftest project {folder}")
        window.show()
        generation = window.generation
        if not generation.generate_all():
            raise SelftestError("Generate > All did not start")
        if not _wait(lambda: not generation.busy, timeout_s):
            generation.cancel()
            raise SelftestError(f"generation did not finish within {timeout_s:.0f} s")
        if generation.failures:
            _shot_id, message = generation.failures[0]
            raise SelftestError(f"generation failed: {message}")
        shot = window.project.story.shots[0]
        take = shot.accepted()
        if take is None:
            raise SelftestError("generation finished without a take for the shot")
        clip = window.project.resolve(take.clip)
        if not clip.is_file():
            raise SelftestError(f"the take's clip is missing: {clip}")
        frames = decode_clip(clip)
        if len(frames) != FRAMES:
            raise SelftestError(f"the clip has {len(frames)} frames, expected {FRAMES}: {clip}")
        width, height = (int(v) for v in SIZE.split("x"))
        if frames[0].shape[:2] != (height, width):
            raise SelftestError(f"the clip is {frames[0].shape[1]}x{frames[0].shape[0]}, expected {SIZE}")
        if "torch" in sys.modules:
            # The engine runs in its own process; torch in the editor's would freeze the UI while it works.
            raise SelftestError("torch was loaded into the editor process: generation must run in the engine process")
        saved = load_project(folder).story.shots[0]
        if saved.accepted_take != take.id:
            raise SelftestError("project.json on disk does not record the new take")
        keyframes = counted(len(take.keyframes), "keyframe")
        return f"1 shot, {len(frames)} frames {SIZE}, {take.engine or 'tiny engine'}, {keyframes}"
    finally:
        window.generation.stop()
        _finish_background_decodes(window)
        window.undo_stack.setClean()
        window.close()
        window.deleteLater()


def _finish_background_decodes(window) -> None:
    """Let thumbnail/clip decodes started by the new take finish while the window still exists."""
    from PySide6.QtCore import QCoreApplication

    from storyboard.frame_loader import FrameLoader

    for loader in window.findChildren(FrameLoader):
        loader.wait(30.0)
    QCoreApplication.processEvents()


def _wait(done, timeout_s: float) -> bool:
    """Run the event loop until ``done()`` or the timeout; the worker's signals arrive meanwhile."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(lambda: (done() or time.monotonic() > deadline) and loop.quit())
    timer.start()
    if not done():
        loop.exec()
    timer.stop()
    return bool(done())
