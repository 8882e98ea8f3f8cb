"""A long editing session must not crash: PySide6 6.12.0 on Python 3.11 drops a reference to None
on every call that returns nothing, so the app aborted ("deallocating None") after a few dozen
timeline repaints. pyproject pins PySide6-Essentials < 6.12; this catches a regression."""

from __future__ import annotations

import sys


def test_repainting_the_timeline_keeps_none_alive(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    before = sys.getrefcount(None)
    for _ in range(200):
        window.timeline.viewport().repaint()
    # A leak of one reference per void call loses ~190 per repaint here; normal churn is a few dozen either way.
    assert sys.getrefcount(None) > before - 500
