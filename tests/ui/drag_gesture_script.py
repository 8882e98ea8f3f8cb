"""Run under Xvfb (QT_QPA_PLATFORM=xcb): drag timeline card 1 past card 4 with a real mouse gesture.

Prints the shot order before and after as JSON on the last line; exits 0 when the drop moved the
card, and stays undoable. Used by test_drag_xvfb.py; offscreen cannot run a real drag loop.
"""

from __future__ import annotations

import json
import os
import sys

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


def main() -> int:
    _app = QApplication(sys.argv[:1])  # kept alive for the whole run
    QTimer.singleShot(30_000, lambda: os._exit(3))  # never hang CI
    from storyboard import dialogs
    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow

    dialogs.set_interactive(False)
    window = MainWindow(AppSettings())
    window.files.open_sample()
    window.resize(1400, 860)
    window.show()
    window.activateWindow()
    if not QTest.qWaitForWindowExposed(window, 10_000):
        print("window never exposed")
        return 4
    QTest.qWait(200)
    view = window.timeline
    viewport = view.viewport()
    model = window.model
    before = [s.id for s in model.shots]
    start = view.visualRect(model.index(0)).center()
    target_rect = view.visualRect(model.index(3))
    target = QPoint(target_rect.center().x() + 20, target_rect.center().y())  # right half of card 4
    expected_row = view.insertion_row(target.x())
    steps = [QPoint(start.x() + (target.x() - start.x()) * k // 4, start.y()) for k in range(1, 5)]

    def finish_gesture() -> None:
        # Runs inside QDrag.exec's event loop: the drag only ends with a move + release.
        for i, point in enumerate(steps):
            QTimer.singleShot(60 * (i + 1), lambda p=point: QTest.mouseMove(viewport, p))
        QTimer.singleShot(60 * (len(steps) + 2), lambda: QTest.mouseRelease(
            viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, target))

    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(viewport, start + QPoint(4, 0))
    QTimer.singleShot(0, finish_gesture)
    QTest.mouseMove(viewport, start + QPoint(40, 0))  # passes the drag distance: QDrag.exec runs here
    QTest.qWait(200)
    after = [s.id for s in model.shots]
    window.undo_stack.undo()
    undone = [s.id for s in model.shots]
    window.undo_stack.setClean()
    window.close()
    print(json.dumps({"before": before, "after": after, "undone": undone, "expected_row": expected_row}))
    moved = after == before[1:expected_row] + [before[0]] + before[expected_row:]
    return 0 if moved and undone == before else 1


if __name__ == "__main__":
    sys.exit(main())
