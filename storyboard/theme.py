"""A dark Fusion palette that suits video thumbnails."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractScrollArea, QApplication

FOCUS_RING = "#60a5fa"
CHECK_BOX_EDGE = "#a1a1aa"  # Fusion draws the edge this colour made darker (x1.4)
RESTING_FRAME = "#3f3f46"


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    role = QPalette.ColorRole
    colors = {
        role.Window: "#202024", role.WindowText: "#e4e4e7", role.Base: "#18181b",
        role.AlternateBase: "#27272a", role.ToolTipBase: "#27272a", role.ToolTipText: "#e4e4e7",
        role.Text: "#e4e4e7", role.Button: "#2a2a30", role.ButtonText: "#e4e4e7",
        role.BrightText: "#f87171", role.Highlight: "#2563eb", role.HighlightedText: "#ffffff",
        role.PlaceholderText: "#71717a", role.Link: "#60a5fa",
    }
    for key, value in colors.items():
        palette.setColor(key, QColor(value))
    palette.setColor(QPalette.ColorGroup.Disabled, role.Text, QColor("#71717a"))
    palette.setColor(QPalette.ColorGroup.Disabled, role.ButtonText, QColor("#71717a"))
    palette.setColor(QPalette.ColorGroup.Disabled, role.WindowText, QColor("#71717a"))
    app.setPalette(palette)
    # Fusion outlines a check box in the window colour made darker: on this dark window an unchecked Loop, Lock or
    # Play on box was a dark square on a dark panel. Their own, lighter "window" colour gives them an edge (a check
    # box paints no background of its own, so nothing else changes).
    boxes = QPalette(palette)
    boxes.setColor(role.Window, QColor(CHECK_BOX_EDGE))
    for kind in ("QCheckBox", "QRadioButton"):
        app.setPalette(boxes, kind)



def show_keyboard_focus(widget: QAbstractScrollArea) -> None:
    """Fusion rings a focused line edit or spin box, but not a text box or a list: tabbing into the prompt or an
    empty takes list showed nothing at all. The same width at rest, so nothing moves when focus comes."""
    widget.setStyleSheet(f"QAbstractScrollArea {{ border: 1px solid {RESTING_FRAME}; }}"
                         f"QAbstractScrollArea:focus {{ border: 1px solid {FOCUS_RING}; }}")
