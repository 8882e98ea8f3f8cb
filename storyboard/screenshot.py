"""Screenshot mode: show the window, wait until it has painted, save a PNG."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget


class _PaintWatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.painted = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.painted = True
        return False


def _settle(window: QWidget, loop: QEventLoop, timeout_s: float) -> None:
    """Let deferred layouts and the status bar settle, and wait for the thumbnails, keyframes and preview frames
    the first paints asked for (they decode off the UI thread, and each arrival can ask for more)."""
    from storyboard.frame_loader import FrameLoader

    deadline = time.monotonic() + timeout_s
    quiet_rounds = 0
    while quiet_rounds < 5 and time.monotonic() < deadline:
        QApplication.processEvents()
        QTimer.singleShot(20, loop.quit)
        loop.exec()
        busy = [loader for loader in window.findChildren(FrameLoader) if loader.busy]
        for loader in busy:
            loader.wait(max(deadline - time.monotonic(), 0.0))
        quiet_rounds = 0 if busy else quiet_rounds + 1


def save_window_screenshot(window: QWidget, out: Path, timeout_ms: int = 10_000) -> bool:
    """Show ``window``, wait for its first paint (plus a short settle), save it as PNG."""
    watcher = _PaintWatcher()
    window.installEventFilter(watcher)
    window.show()
    window.raise_()
    loop = QEventLoop()
    waited = 0
    while not watcher.painted and waited < timeout_ms:
        QTimer.singleShot(20, loop.quit)
        loop.exec()
        waited += 20
    _settle(window, loop, timeout_ms / 1000)
    window.removeEventFilter(watcher)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out), "PNG"):
        print(f"error: could not write screenshot {out}", file=sys.stderr)
        return False
    return True
