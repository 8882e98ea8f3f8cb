"""Screenshots of the window while the tiny engine generates the sample story, and after it finished.

Usage (what the issue note quotes):
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tests/ui/generation_screenshots_script.py OUT_DIR \
        [--size 320x192 --frames 17 --steps 6]
Writes OUT_DIR/generating.png (shot 3 rendering, shot 2 selected with its clip and memory) and
OUT_DIR/finished.png (the last shot selected), and prints the card statuses at both moments as JSON.
test_ui_generation_screenshots.py runs it; it also works offscreen (QT_QPA_PLATFORM=offscreen).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication


def wait_until(condition, timeout_ms: int) -> bool:
    loop = QEventLoop()
    waited = 0
    while not condition() and waited < timeout_ms:
        QTimer.singleShot(20, loop.quit)
        loop.exec()
        waited += 20
    return condition()


def settle(ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def check_box_edge(window) -> int:
    """How much lighter the unchecked Lock box's edge is than the panel behind it (the theme's dark window)."""
    from PySide6.QtWidgets import QStyle, QStyleOptionButton

    lock = window.inspector.seed_lock
    option = QStyleOptionButton()
    lock.initStyleOption(option)
    box = lock.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, lock)
    edge = lock.grab().toImage().pixelColor(box.left(), box.center().y())
    return edge.lightness() - window.palette().window().color().lightness()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--size", default="320x192")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="storymem-shots-"))
    os.environ.setdefault("STORYMEM_CACHE", str(work / "cache"))
    _app = QApplication(sys.argv[:1])  # kept alive for the whole run
    QTimer.singleShot(240_000, lambda: os._exit(3))  # never hang CI
    from ui_helpers import statuses as card_statuses  # this script's folder is on sys.path

    from storyboard import dialogs
    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow
    from storyboard.theme import apply_dark_theme

    apply_dark_theme(_app)
    dialogs.set_interactive(False)
    settings = AppSettings(engine="tiny", default_size=args.size, default_frames=args.frames, default_steps=args.steps)
    window = MainWindow(settings)
    window.files.open_sample()
    window.resize(1440, 900)  # the first size the app opens at: nothing above the timeline scrolls
    window.show()
    if not window.files._write(work / "sample.storymem"):
        print("could not save the sample project", file=sys.stderr)
        return 1
    shots = window.project.story.shots
    model = window.model

    def statuses() -> list[str]:
        return card_statuses(window)

    third: list[int] = []
    assert window.generation.generate_all()
    window.generation.worker.worker.progress.connect(
        lambda shot_id, step, *_: third.append(step) if shot_id == shots[2].id else None)
    # Select shot 2 as soon as its take is in, so its clip is loaded before shot 3 gets going.
    if not wait_until(lambda: shots[1].accepted() is not None, 180_000):
        print(f"shot 2 never finished: {statuses()}", file=sys.stderr)
        return 1
    window.edits.select_shots([shots[1].id])
    wait_until(lambda: not window.preview.player.loading, 10_000)
    if not wait_until(lambda: any(step >= 1 for step in third), 180_000):  # a denoising step, not loading
        print(f"shot 3 never started: {statuses()}", file=sys.stderr)
        return 1
    settle(60)
    mid = statuses()
    progress = model.live_progress.get(shots[2].id)
    window.grab().save(str(out / "generating.png"), "PNG")

    if not wait_until(lambda: not window.generation.busy, 180_000):
        print("generation did not finish", file=sys.stderr)
        return 1
    window.edits.select_shots([shots[-1].id])
    wait_until(lambda: not window.preview.player.loading, 10_000)
    settle()
    window.grab().save(str(out / "finished.png"), "PNG")
    print(json.dumps({"generating": mid, "progress": progress and progress[1], "finished": statuses(),
                      "check_box_edge": check_box_edge(window)}))
    window.generation.stop()
    window.files.maybe_save = lambda: True  # the project is saved; nothing to ask on close
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
