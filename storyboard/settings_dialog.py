"""Settings: engine, models folder (with a check listing missing files), keyframe similarity, queue, and the render
settings new projects start with. Values live in QSettings through AppSettings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from storyboard.app_settings import ENGINES, AppSettings
from storyboard.dialog_body import DialogBody, fit_screen, screen_room
from storyboard.note_label import NOTE_STYLE, NoteLabel
from storyboard.render_settings_form import RenderSettingsForm
from storymem_engine.multi_gpu import gpu_note, split_needs, visible_gpus
from storymem_engine.tiny import DRAFT_FRAMES, DRAFT_STEPS
from storymem_engine.words import counted


def check_models_folder(folder: str, clip: bool = True) -> str:
    """A message saying whether the models folder holds every file the engine needs, and how to get the rest.

    ``clip``: keyframes are picked with CLIP ViT-B/32 (the method), so its weights belong to the folder.
    """
    if not folder:
        return "No models folder set."
    try:
        from storymem_engine.models import download_commands, missing_model_files, models_folder_problem
    except ImportError:
        return "The model check is not available in this build (storymem_engine.models is missing)."
    problem = models_folder_problem(folder)
    if problem:
        return problem
    folder = str(Path(folder).expanduser())
    try:
        missing = missing_model_files(folder, clip=clip)
        commands = download_commands(folder, clip=clip, missing=missing)
    except Exception as exc:  # noqa: BLE001 - the check reports, it never crashes the dialog
        return f"Could not check {folder}: {exc}"
    try:
        from storymem_engine.models import distill_download_command, distill_lora_missing

        draft = distill_lora_missing(folder)
        optional = ("\n\nOptional, for the Draft profile (4-step distilled LoRAs): " + ", ".join(draft)
                    + f"\n{distill_download_command(folder)}") if draft else ""
        optional += _mm2v_note(folder)
    except Exception as exc:  # noqa: BLE001 - the check reports, it never crashes the dialog
        optional = f"\n\nCould not check the optional files (Draft profile, MM2V): {exc}"
    if not missing:
        return f"All model files found in {folder}.{optional}"
    return (f"{counted(len(missing), 'file')} missing in {folder}:\n" + "\n".join(missing)
            + "\n\nDownload them with:\n" + "\n".join(commands) + optional)


def _expanded(folder: str) -> str:
    """A folder typed as "~/models" is the home's (a shell expands it; a settings field must too)."""
    return str(Path(folder).expanduser()) if folder.startswith("~") else folder


def _mm2v_note(folder: str) -> str:
    """The MM2V LoRA is needed only by a project whose Continuation is MM2V: listed as optional when missing."""
    from storymem_engine.models import download_commands, storymem_lora_missing

    missing = storymem_lora_missing(folder, "mm2v")
    if not missing:
        return ""
    return ("\n\nOptional, for the MM2V continuation (Generate > Render settings > Continuation): "
            + ", ".join(missing) + "\n" + download_commands(folder, "mm2v", clip=False)[-1])


class SettingsDialog(QDialog):
    """The app's preferences. The render settings here are what a new project starts with; an open project's own
    are in Generate > Render settings."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None, draft_unavailable: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.original = settings
        self.models_folder = QLineEdit(settings.models_folder)
        self.models_folder.setAccessibleName("Models folder")  # its row holds Browse too: the label names neither
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.check_button = QPushButton("Check models")
        self.check_button.clicked.connect(self.run_check)
        self.check_result = QPlainTextEdit()
        self.check_result.setReadOnly(True)
        self.check_result.setMinimumHeight(110)
        self.check_result.setMaximumHeight(260)  # a list of missing files and its long download lines, unwrapped
        self.check_result.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.check_result.setPlaceholderText("Check models lists every file the engine needs that is missing.")
        self.check_result.setObjectName("model_check")
        self.check_result.setAccessibleName("What the models check found")
        self.engine = QComboBox()
        self.engine.addItems(ENGINES)
        self.engine.setCurrentText(settings.engine)
        self.engine.setToolTip("wan: Wan2.2 A14B + StoryMem from the models folder (CUDA GPU).\n"
                               "tiny: random-weight models that check the install; output is noise-like.")
        self.engine_note = NoteLabel(
            f"The tiny engine is a try-out: left at their defaults, size, frames and steps become draft settings "
            f"(about 128x80, {DRAFT_FRAMES} frames, {DRAFT_STEPS} steps), a few seconds per shot.")
        self.engine_note.setObjectName("engine_note")
        # About the tiny engine only: shown while it is the one chosen.
        self.engine_note.setVisible(settings.engine == "tiny")
        self.engine.currentTextChanged.connect(lambda name: self.engine_note.setVisible(name == "tiny"))
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
        self.rope_stride = _spin(1, 64, settings.memory_rope_stride)
        self.rope_stride.setObjectName("rope_stride")
        rope_help = NoteLabel(
            "Memory frames sit at temporal positions −M·S … −S before the shot’s 0 … T−1. S = 1 (default) is what "
            "the public StoryMem release runs: plain concatenation. The LoRA was trained with a shift; the "
            "authors say their internal code uses a negative shift whose stride is not public, so other values "
            "are for experiments.")
        self.attention = QComboBox()
        self.attention.setObjectName("attention_backend")
        for key, label in (("auto", "auto (flash-attn, else SageAttention, else PyTorch SDPA)"),
                           ("native", "PyTorch SDPA"), ("flash", "flash-attn"), ("sage", "SageAttention")):
            self.attention.addItem(label, key)
        _select_data(self.attention, settings.attention_backend)
        self.attention_note = NoteLabel(attention_note())
        self.attention_note.setObjectName("attention_note")
        gpus = visible_gpus()
        self.gpu_list = QLabel("\n".join(f"GPU {n}: {name}" for n, name in enumerate(gpus)) or "none")
        self.gpu_list.setObjectName("gpu_list")
        self.gpu_note = NoteLabel(gpu_note(len(gpus)))
        self.gpu_note.setObjectName("gpu_note")
        # A count saved on a machine with more GPUs shows what this one can do (and is saved so on OK).
        self.gpus_per_shot = _spin(1, max(1, len(gpus)), min(settings.gpus_per_shot, max(1, len(gpus))))
        self.gpus_per_shot.setObjectName("gpus_per_shot")
        self.gpus_per_shot.setEnabled(len(gpus) > 1)
        self.gpus_per_shot.setToolTip("Split every shot across this many GPUs (one engine process per GPU). The "
                                      "shot's frames are the same as on one GPU; it takes a fraction of the time.")
        self.parallel_mode = QComboBox()
        self.parallel_mode.setObjectName("parallel_mode")
        self.parallel_mode.addItem("Ulysses (attention heads across the GPUs)", "ulysses")
        self.parallel_mode.addItem("Ring (keys/values passed around)", "ring")
        self.parallel_mode.setToolTip("Ulysses: each GPU computes some of the 40 attention heads, so Wan2.2 A14B "
                                      "splits on 2, 4, 5, 8 or 10 GPUs.\nRing: each GPU keeps a part of the keys and "
                                      "values and passes it on; any GPU count, needs flash attention.")
        _select_data(self.parallel_mode, settings.parallel_mode)
        self.shard_weights = QCheckBox("Shard the experts' weights across the GPUs (FSDP2; Final profile only)")
        self.shard_weights.setObjectName("shard_weights")
        self.shard_weights.setChecked(settings.shard_weights)
        self.shard_weights.setToolTip("Each GPU keeps 1/N of every expert, for experts too big for one GPU. Every "
                                      "transformer block is gathered whole just before it runs.\nThe experts stay on "
                                      "the GPUs (offload full_gpu), whatever the project's offload preset.")
        for widget in (self.parallel_mode, self.shard_weights):
            self.gpus_per_shot.valueChanged.connect(lambda n, w=widget: w.setEnabled(n > 1))
            widget.setEnabled(self.gpus_per_shot.value() > 1)
        self.gpu_needs = NoteLabel()
        self.gpu_needs.setObjectName("gpu_needs")
        self._machine = None
        self.compile_blocks = QCheckBox("Compile the transformer blocks (torch.compile)")
        self.compile_blocks.setToolTip("Compiles the repeated transformer blocks: faster steps after a slow first "
                                       "shot.")
        self.compile_blocks.setChecked(settings.compile_blocks)
        self.continue_after_failure = QCheckBox("Go on with the next shots when one fails")
        self.continue_after_failure.setChecked(settings.continue_after_failure)
        self.continue_after_failure.setToolTip("Off: a failed shot stops the queue (later shots would use memory "
                                               "it never made). On: each later shot is still tried.")
        self.defaults = RenderSettingsForm(settings.render_defaults(), draft_unavailable=draft_unavailable)

        folder_row = QHBoxLayout()
        folder_row.addWidget(self.models_folder, 1)
        folder_row.addWidget(browse)
        folder_row.addWidget(self.check_button)
        # Tabs named as the messages elsewhere name them ("Settings > Engine", "Settings > GPUs per shot"), so the
        # dialog fits a laptop screen instead of one row of every setting.
        self.tabs = QTabWidget()
        _form_page(self.tabs, "Engine", (
            ("Engine", self.engine), ("", self.engine_note), ("Models folder", folder_row), ("", self.check_result),
            ("Keyframe similarity", self.keyframe_similarity), ("Queue", self.continue_after_failure),
            ("Attention", self.attention), ("", self.attention_note), ("", self.compile_blocks)))
        _form_page(self.tabs, "GPUs", (
            ("GPUs", self.gpu_list), ("", self.gpu_note), ("GPUs per shot", self.gpus_per_shot),
            ("Split", self.parallel_mode), ("", self.shard_weights), ("", self.gpu_needs)))
        defaults_page = QWidget()
        defaults = QVBoxLayout(defaults_page)
        defaults_note = NoteLabel("What a new project starts with. An open project's own settings: Generate > "
                                  "Render settings.")
        defaults.addWidget(defaults_note)
        defaults.addWidget(self.defaults)
        defaults.addStretch(1)
        self.defaults_tab = DialogBody(defaults_page)
        self.tabs.addTab(self.defaults_tab, "New projects")
        advanced = _form_page(self.tabs, "Advanced", (("Memory RoPE stride S", self.rope_stride),))
        advanced.addRow(rope_help)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.problems = problems_label()
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.problems)
        layout.addWidget(buttons)
        fit_screen(self)
        self.gpus_per_shot.valueChanged.connect(self._show_gpu_needs)
        self.shard_weights.toggled.connect(self._show_gpu_needs)
        self.defaults.offload.currentTextChanged.connect(self._show_gpu_needs)
        self.defaults.text_encoder_on_cpu.toggled.connect(self._show_gpu_needs)
        self._show_gpu_needs()

    def _show_gpu_needs(self) -> None:
        """Per GPU and in host RAM, what GPUs per shot asks of this machine (with the new-project offload preset)."""
        from storymem_engine.accounting import this_machine

        gpus = self.gpus_per_shot.value()
        self.gpu_needs.setVisible(gpus > 1)
        if gpus < 2:
            return
        if self._machine is None:
            self._machine = this_machine()
        text, ok = split_needs(gpus, self.defaults.offload.currentText(), self.shard_weights.isChecked(),
                               self._machine, self.defaults.text_encoder_on_cpu.isChecked())
        self.gpu_needs.setText(text if ok else text + " Does not fit this machine.")
        self.gpu_needs.setStyleSheet(NOTE_STYLE if ok else "color:#f59e0b;")

    def accept(self) -> None:
        """Check sizes and frame counts here, not 20 s into a Generate: each value that the engine would refuse is
        replaced by the nearest valid one and the dialog says so; OK again keeps the corrected values."""
        if not show_corrections(self.defaults, self.problems):
            super().accept()
        else:
            self.tabs.setCurrentWidget(self.defaults_tab)  # where the corrected values are

    def values(self) -> AppSettings:
        return replace(
            self.original.with_render_defaults(self.defaults.values()),
            engine=self.engine.currentText(),
            models_folder=_expanded(self.models_folder.text().strip()),
            continue_after_failure=self.continue_after_failure.isChecked(),
            keyframe_similarity=self.keyframe_similarity.currentData(),
            memory_rope_stride=self.rope_stride.value(),
            attention_backend=self.attention.currentData(),
            compile_blocks=self.compile_blocks.isChecked(),
            gpus_per_shot=self.gpus_per_shot.value(),
            parallel_mode=self.parallel_mode.currentData(),
            shard_weights=self.shard_weights.isChecked(),
        )

    def run_check(self) -> str:
        message = check_models_folder(self.models_folder.text().strip(),
                                      clip=self.keyframe_similarity.currentData() == "clip")
        self.check_result.setPlainText(message)
        return message

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder", self.models_folder.text())
        if folder:
            self.models_folder.setText(folder)


def attention_note() -> str:
    """Which attention kernels this install has (looked up without importing them or torch)."""
    from importlib.util import find_spec

    have = [name for name, module in (("flash-attn", "flash_attn"), ("SageAttention", "sageattention"))
            if find_spec(module) is not None]
    found = ", ".join(have) if have else "neither flash-attn nor SageAttention"
    return (f"Installed here: {found}. auto uses them on a CUDA GPU, else PyTorch's SDPA (what the method's numbers "
            "were checked with).")


def problems_label() -> QLabel:
    label = QLabel()
    label.setObjectName("settings_problems")
    label.setStyleSheet("color:#f59e0b;")
    label.setWordWrap(True)
    label.hide()
    return label


def show_corrections(form: RenderSettingsForm, label: QLabel) -> bool:
    """Correct the form; True (and the label says what changed) when something had to be corrected."""
    fixes = form.correct()
    if fixes:
        label.setText("Corrected to the nearest valid values: " + "; ".join(fixes) + ". Press OK to keep them.")
        label.show()
        # The dialog grows by the message's lines: kept at its size, the layout squeezed the notes above (the
        # offload preset's), cutting their first and last lines off.
        window = label.window()
        window.layout().activate()
        room = screen_room(window).height()  # past that the settings scroll (DialogBody)
        window.resize(window.width(), max(window.height(), min(window.sizeHint().height(), room)))
    return bool(fixes)


def _form_page(tabs: QTabWidget, title: str, rows: tuple) -> QFormLayout:
    """A tab of (label, widget or layout) rows, kept together at the top of a tab shorter than the tallest.
    Each tab scrolls on its own on a short screen: the whole tab widget in one scroll area put a scroll bar on
    the short GPUs tab too, with nothing to scroll to."""
    page = QWidget()
    tabs.addTab(DialogBody(page), title)
    column = QVBoxLayout(page)
    form = QFormLayout()
    for label, field in rows:
        form.addRow(label, field)
    column.addLayout(form)
    column.addStretch(1)
    return form


def _select_data(combo: QComboBox, value: str) -> None:
    combo.setCurrentIndex(max(0, combo.findData(value)))


def _spin(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin
