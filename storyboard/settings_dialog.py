"""Settings: models folder (with a check listing missing files), offload preset, memory, keyframes,
shot defaults. Values live in QSettings through AppSettings."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from storyboard.app_settings import ENGINES, OFFLOAD_PRESETS, SIZES, AppSettings
from storymem_engine.story import MAX_SIDE
from storymem_engine.tiny import DRAFT_FRAMES, DRAFT_STEPS


def check_models_folder(folder: str, clip: bool = True) -> str:
    """A message saying whether the models folder holds every file the engine needs, and how to get the rest.

    ``clip``: keyframes are picked with CLIP ViT-B/32 (the method), so its weights belong to the folder.
    """
    if not folder:
        return "No models folder set."
    try:
        from storymem_engine.models import download_commands, missing_model_files
    except ImportError:
        return "The model check is not available in this build (storymem_engine.models is missing)."
    try:
        missing = missing_model_files(folder, clip=clip)
        commands = download_commands(folder, clip=clip)
    except Exception as exc:  # noqa: BLE001 - the check reports, it never crashes the dialog
        return f"Could not check {folder}: {exc}"
    if not missing:
        return f"All model files found in {folder}."
    return (f"{len(missing)} file(s) missing in {folder}:\n" + "\n".join(missing)
            + "\n\nDownload them with:\n" + "\n".join(commands))


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.original = settings
        self.models_folder = QLineEdit(settings.models_folder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.check_button = QPushButton("Check models")
        self.check_button.clicked.connect(self.run_check)
        self.check_result = QPlainTextEdit()
        self.check_result.setReadOnly(True)
        self.check_result.setMaximumHeight(110)
        self.check_result.setPlaceholderText("Check models lists every file the engine needs that is missing.")
        self.check_result.setObjectName("model_check")
        self.engine = QComboBox()
        self.engine.addItems(ENGINES)
        self.engine.setCurrentText(settings.engine)
        self.engine.setToolTip("wan: Wan2.2 A14B + StoryMem from the models folder (CUDA GPU).\n"
                               "tiny: random-weight models that check the install; output is noise-like.")
        self.engine_note = QLabel(
            f"The tiny engine is a try-out: left at their defaults, size, frames and steps become draft settings "
            f"(about 128x80, {DRAFT_FRAMES} frames, {DRAFT_STEPS} steps), a few seconds per shot.")
        self.engine_note.setObjectName("engine_note")
        self.engine_note.setStyleSheet("color:#a1a1aa;")
        self.offload = QComboBox()
        self.offload.addItems(OFFLOAD_PRESETS)
        self.offload.setCurrentText(settings.offload)
        self.offload_needs = QLabel()
        self.offload_needs.setObjectName("offload_needs")
        self._machine = None  # read once, when the figures are first shown
        self.offload.currentTextChanged.connect(self._show_needs)
        self.memory_size = _spin(1, 64, settings.memory_size)
        self.memory_sink = _spin(0, 64, settings.memory_sink)
        self.memory_sink.setToolTip("How many of the story's first keyframes every later shot always remembers (they "
                                    "anchor the characters' look);\nthe rest of the memory is the newest keyframes.")
        self.memory_size.setToolTip("How many keyframes a shot is conditioned on at most (the model was trained "
                                    "with up to 10).")
        self.keyframes_per_shot = _spin(1, 16, settings.keyframes_per_shot)
        self.keyframe_threshold = QDoubleSpinBox()
        self.keyframe_threshold.setRange(0.5, 1.0)
        self.keyframe_threshold.setSingleStep(0.01)
        self.keyframe_threshold.setValue(settings.keyframe_threshold)
        self.keyframe_memory_dedup = QDoubleSpinBox()
        self.keyframe_memory_dedup.setRange(0.5, 1.0)
        self.keyframe_memory_dedup.setSingleStep(0.01)
        self.keyframe_memory_dedup.setValue(settings.keyframe_memory_dedup)
        self.default_frames = _spin(5, 1001, settings.default_frames)
        self.default_frames.setSingleStep(4)
        self.default_steps = _spin(1, 200, settings.default_steps)
        self.default_guidance = QDoubleSpinBox()
        self.default_guidance.setRange(0.0, 30.0)
        self.default_guidance.setSingleStep(0.5)
        self.default_guidance.setValue(settings.default_guidance)
        self.default_size = QComboBox()
        self.default_size.setEditable(True)
        self.default_size.addItems(SIZES)
        self.default_size.setCurrentText(settings.default_size)
        self.keyframe_similarity = QComboBox()
        self.keyframe_similarity.addItem("CLIP ViT-B/32 (the method; weights in the models folder)", "clip")
        self.keyframe_similarity.addItem("Model-free HSV (no CLIP weights; takes say so)", "hsv")
        _select_data(self.keyframe_similarity, settings.keyframe_similarity)
        self.keyframe_similarity.setObjectName("keyframe_similarity")
        self.keyframe_similarity.setToolTip(
            "Which keyframes go into the memory. StoryMem picks them with CLIP ViT-B/32. The model-free HSV "
            "measure scores crops and flips of one picture as the same image, so the memory holds fewer,\n"
            "different images than the method expects; every take made with it says "
            "\u201ckeyframes picked without CLIP\u201d.")
        self.seed_rule = QComboBox()
        self.seed_rule.addItem("Story seed + shot index within its scene (as the official code)", "scene")
        self.seed_rule.addItem("Story seed + shot index in the story", "story")
        _select_data(self.seed_rule, settings.seed_rule)
        self.seed_rule.setObjectName("seed_rule")
        self.seed_rule.setToolTip("The seed of a shot without its own seed. The first rule gives the same noise as "
                                  "the official StoryMem run, so renders can be compared with it.")
        self.vae_tiling = QCheckBox("Tile the VAE (less VRAM; the official run encodes whole frames)")
        self.vae_tiling.setChecked(settings.vae_tiling)
        self.vae_tiling.setObjectName("vae_tiling")
        self.vae_tiling.setToolTip("Off: whole frames, as the method. The group_offload and sequential presets tile "
                                   "anyway, since whole frames need more VRAM than they leave.")
        self.rope_stride = _spin(1, 64, settings.memory_rope_stride)
        self.rope_stride.setObjectName("rope_stride")
        rope_help = QLabel(
            "Memory frames sit at temporal positions −M·S … −S before the shot’s 0 … T−1. S = 1 (default) is what "
            "the public StoryMem release runs: plain concatenation. The LoRA was trained with a shift; the "
            "authors say their internal code uses a negative shift whose stride is not public, so other values "
            "are for experiments.")
        rope_help.setWordWrap(True)
        rope_help.setStyleSheet("color:#a1a1aa;")
        self.continue_after_failure = QCheckBox("Go on with the next shots when one fails")
        self.continue_after_failure.setChecked(settings.continue_after_failure)
        self.continue_after_failure.setToolTip("Off: a failed shot stops the queue (later shots would use memory "
                                               "it never made). On: each later shot is still tried.")

        folder_row = QHBoxLayout()
        folder_row.addWidget(self.models_folder, 1)
        folder_row.addWidget(browse)
        folder_row.addWidget(self.check_button)
        form = QFormLayout()
        form.addRow("Engine", self.engine)
        form.addRow("", self.engine_note)
        form.addRow("Models folder", folder_row)
        form.addRow("", self.check_result)
        form.addRow("Offload preset", self.offload)
        form.addRow("", self.offload_needs)
        form.addRow("Memory size (keyframes)", self.memory_size)
        form.addRow("Memory sink (kept first)", self.memory_sink)
        form.addRow("Keyframes per shot (max)", self.keyframes_per_shot)
        form.addRow("Keyframe similarity", self.keyframe_similarity)
        form.addRow("Keyframe similarity threshold (start)", self.keyframe_threshold)
        form.addRow("Drop keyframes repeating a saved one above", self.keyframe_memory_dedup)
        form.addRow("Default frames", self.default_frames)
        form.addRow("Default steps", self.default_steps)
        form.addRow("Default guidance", self.default_guidance)
        form.addRow("Default size (WxH)", self.default_size)
        form.addRow("Shot seeds", self.seed_rule)
        form.addRow("VAE", self.vae_tiling)
        form.addRow("Queue", self.continue_after_failure)
        advanced = QGroupBox("Advanced")
        advanced_form = QFormLayout(advanced)
        advanced_form.addRow("Memory RoPE stride S", self.rope_stride)
        advanced_form.addRow(rope_help)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        self.problems = QLabel()
        self.problems.setObjectName("settings_problems")
        self.problems.setStyleSheet("color:#f59e0b;")
        self.problems.setWordWrap(True)
        self.problems.hide()
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(advanced)
        layout.addWidget(self.problems)
        layout.addWidget(buttons)
        self._show_needs()

    def accept(self) -> None:
        """Check sizes and frame counts here, not 20 s into a Generate: each value that the engine would refuse is
        replaced by the nearest valid one and the dialog says so; OK again keeps the corrected values."""
        fixes = self.correct()
        if fixes:
            self.problems.setText("Corrected to the nearest valid values: " + "; ".join(fixes)
                                  + ". Press OK to keep them.")
            self.problems.show()
            return
        super().accept()

    def correct(self) -> list[str]:
        """Apply the nearest valid size and frame count; what was changed, in words."""
        fixes = []
        text = self.default_size.currentText().strip().lower().replace(" ", "")
        try:
            width, height = (int(v) for v in text.split("x"))
        except ValueError:
            width, height = self.original.size
            fixes.append(f"size {text!r} is not WxH: {width}x{height}")
        else:
            fixed_w, fixed_h = (min(MAX_SIDE, max(16, round(v / 16) * 16)) for v in (width, height))
            if (fixed_w, fixed_h) != (width, height):
                fixes.append(f"size {width}x{height} -> {fixed_w}x{fixed_h} (sides are multiples of 16, "
                             f"16 to {MAX_SIDE})")
                width, height = fixed_w, fixed_h
        self.default_size.setCurrentText(f"{width}x{height}")
        frames = self.default_frames.value()
        if (frames - 1) % 4:
            fixed = min(1001, max(5, round((frames - 1) / 4) * 4 + 1))
            fixes.append(f"frames {frames} -> {fixed} (a clip has 4n+1 frames)")
            self.default_frames.setValue(fixed)
        return fixes

    def values(self) -> AppSettings:
        size = self.default_size.currentText().strip().lower().replace(" ", "")
        try:
            width, height = (int(v) for v in size.split("x"))
            size = f"{width - width % 2}x{height - height % 2}" if width > 0 and height > 0 else None
        except ValueError:
            size = None
        return replace(
            self.original,
            engine=self.engine.currentText(),
            models_folder=self.models_folder.text().strip(),
            offload=self.offload.currentText(),
            memory_size=self.memory_size.value(),
            memory_sink=min(self.memory_sink.value(), self.memory_size.value()),
            keyframes_per_shot=self.keyframes_per_shot.value(),
            keyframe_threshold=self.keyframe_threshold.value(),
            keyframe_memory_dedup=self.keyframe_memory_dedup.value(),
            default_frames=self.default_frames.value(),
            default_steps=self.default_steps.value(),
            default_guidance=self.default_guidance.value(),
            default_size=size or self.original.default_size,
            continue_after_failure=self.continue_after_failure.isChecked(),
            keyframe_similarity=self.keyframe_similarity.currentData(),
            seed_rule=self.seed_rule.currentData(),
            vae_tiling=self.vae_tiling.isChecked(),
            memory_rope_stride=self.rope_stride.value(),
        )

    def _show_needs(self) -> None:
        """What the chosen preset needs (accounting.py) next to what this machine has."""
        from storymem_engine.accounting import fits, fitting_preset, preset_needs, this_machine
        from storymem_engine.models import OFFLOAD_HELP

        if self._machine is None:
            self._machine = this_machine()
        preset = self.offload.currentText()
        needs = preset_needs(preset)
        ok = fits(needs, self._machine)
        text = (f"Needs {needs.ram_gib:.1f} GiB RAM, {needs.vram_gib:.1f} GiB VRAM (Wan2.2) · "
                f"this machine: {self._machine.describe()}")
        if not ok:
            better = fitting_preset(self._machine)
            text += (f"\nDoes not fit this machine: {better} does." if better
                     else "\nNo preset fits this machine (the tiny engine runs).")
        self.offload_needs.setText(text)
        self.offload_needs.setStyleSheet("color:#a1a1aa;" if ok else "color:#f59e0b;")
        self.offload.setToolTip(OFFLOAD_HELP.get(preset, ""))

    def run_check(self) -> str:
        message = check_models_folder(self.models_folder.text().strip(),
                                      clip=self.keyframe_similarity.currentData() == "clip")
        self.check_result.setPlainText(message)
        return message

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder", self.models_folder.text())
        if folder:
            self.models_folder.setText(folder)


def _select_data(combo: QComboBox, value: str) -> None:
    combo.setCurrentIndex(max(0, combo.findData(value)))


def _spin(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin
