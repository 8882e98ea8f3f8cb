"""The inspector's per-shot numbers: 0 shows "default (N)", the project's value (or, for the animatic length,
"from frames"), and the arrows step from N.

A plain QSpinBox steps from 0: the first click up on "default (81)" frames gave 4, which the model cannot make
(4n+1, at least 5), and on "default (40)" steps gave 1.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox


def frame_count(value: int) -> int:
    """The nearest frame count the model makes (4n+1, at least 5); 0 stays 0 (the default)."""
    if value <= 0:
        return 0
    return max(5, 4 * round((value - 1) / 4) + 1)


class DefaultSpinBox(QSpinBox):
    """A whole number of a shot's own, or 0 for the project's default. ``frames``: only 4n+1 counts, typed values
    snap to the nearest one."""

    def __init__(self, high: int, step: int = 1, frames: bool = False) -> None:
        super().__init__()
        self.frames = frames
        self.default_value = 0
        self.setRange(0, high)
        self.setSingleStep(step)
        self.setSpecialValueText("default")
        if frames:
            # A count is taken when typing ends (Enter, leaving the field): "8" on the way to "81" is no count.
            self.setKeyboardTracking(False)

    def set_default(self, value: int) -> None:
        self.default_value = value
        self.setSpecialValueText(f"default ({value})")

    def stepBy(self, steps: int) -> None:
        start = self.value() or self.default_value or self.minimum()
        target = start + steps * self.singleStep()
        if self.frames:
            target = frame_count(target) if target >= 5 else 0
        self.setValue(0 if target < 1 else min(target, self.maximum()))

    def valueFromText(self, text: str) -> int:
        value = super().valueFromText(text)
        return frame_count(value) if self.frames else value


class DefaultDoubleSpinBox(QDoubleSpinBox):
    """A shot's own decimal value, or 0 for the project's default; the arrows step from the default."""

    def __init__(self, high: float, step: float) -> None:
        super().__init__()
        self.default_value = 0.0
        self.setRange(0.0, high)
        self.setSingleStep(step)
        self.setSpecialValueText("default")
        # A value is taken when typing ends (Enter, leaving the field): the "2" of "2.5" was taken at once, the field
        # redrawn as "2.00 s" and the "." refused; a leading "0" of "0.5" snapped to the default.
        self.setKeyboardTracking(False)

    def set_default(self, value: float) -> None:
        self.default_value = value
        self.setSpecialValueText(f"default ({value:g})")

    def stepBy(self, steps: int) -> None:
        step = self.singleStep()
        # From the default on the arrows' grid: 5.06 s from frames steps to 5.5 s, not 5.56 s.
        start = self.value() or round(self.default_value / step) * step
        target = start + steps * step
        self.setValue(0.0 if target <= 0 else min(target, self.maximum()))
