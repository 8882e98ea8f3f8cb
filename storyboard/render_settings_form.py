"""The fields of RenderSettings as a form: the project's settings and the defaults for new projects share it."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

from storyboard.note_label import NOTE_STYLE, NoteLabel
from storymem_engine.models import OFFLOAD_CHOICES
from storymem_engine.render_settings import MAX_KEYFRAMES_PER_SHOT, MAX_MEMORY, RenderSettings
from storymem_engine.story import MAX_FRAMES, MAX_GUIDANCE, MAX_SIDE, MAX_STEPS

SIZES = ("832x480", "480x832", "1280x720", "720x1280", "640x640")
# QSpinBox holds a C int; a story seed can be larger (up to 2**63-1) and then is typed in the shot's own field.
MAX_SPIN_SEED = 2**31 - 1


CONTINUATION_CHOICES = (
    ("mi2v", "MI2V: from the previous shot's last frame"),
    ("mm2v", "MM2V: from the previous shot's last 5 frames"),
)
PROFILE_CHOICES = (
    ("final", "Final: the method (40 steps, CFG 3.5)"),
    ("draft", "Draft: 4-step distilled LoRAs, CFG off (memory fidelity unverified)"),
)


class RenderSettingsForm(QWidget):
    """``draft_unavailable``: why the Draft profile cannot run here ("" when it can); it is then greyed out."""

    def __init__(self, settings: RenderSettings, parent: QWidget | None = None, draft_unavailable: str = "") -> None:
        super().__init__(parent)
        self.original = settings
        self.profile = _choices(
            PROFILE_CHOICES, settings.profile, "profile",
            "Final renders exactly what StoryMem's authors run. Draft stacks lightx2v's distilled 4-step LoRAs on "
            "the memory LoRA:\nabout ten times faster, but whether the memory keeps its effect under them is not "
            "published, so every draft take says so.\nGenerate > Finalize drafts makes the kept drafts again at Final "
            "with the same seeds.")
        if draft_unavailable:
            item = self.profile.model().item(self.profile.findData("draft"))
            item.setEnabled(False)
            item.setToolTip(draft_unavailable)
            self.profile.setToolTip(self.profile.toolTip() + f"\n\nDraft is not available: {draft_unavailable}")
        self.size = QComboBox()
        self.size.setEditable(True)
        self.size.addItems(SIZES)
        self.size.setCurrentText(f"{settings.width}x{settings.height}")
        self.size.setToolTip("Width x height of every shot, in pixels (multiples of 16). Wan2.2 A14B is trained "
                             "at 480p and 720p.")
        self.frames = _spin(5, MAX_FRAMES, settings.frames, "Frames per shot, 4n+1 (81 = about 5 s at 16 fps). "
                            "A shot that continues the previous one keeps 1 (or 5) frames fewer: its first frame "
                            "repeats the previous shot's last.")
        self.frames.setSingleStep(4)
        self.steps = _spin(1, MAX_STEPS, settings.steps, "Denoising steps per shot (the method: 40). Fewer is "
                           "faster and rougher.")
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, MAX_GUIDANCE)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(settings.guidance)
        self.guidance.setToolTip("How strongly the prompt steers the picture (classifier-free guidance; the method: "
                                 "3.5).")
        self.seed = _spin(0, MAX_SPIN_SEED, min(settings.seed, MAX_SPIN_SEED),
                          "The story seed: each shot without its own seed starts from this plus its number.")
        self.seed_rule = QComboBox()
        self.seed_rule.addItem("Story seed + shot index within its scene (as the official code)", "scene")
        self.seed_rule.addItem("Story seed + shot index in the story", "story")
        self.seed_rule.setCurrentIndex(max(0, self.seed_rule.findData(settings.seed_rule)))
        self.seed_rule.setObjectName("seed_rule")
        self.seed_rule.setToolTip("The seed of a shot without its own seed. The first rule gives the same noise as "
                                  "the official StoryMem run, so renders can be compared with it.")
        self.continuation = _choices(
            CONTINUATION_CHOICES, settings.continuation, "continuation",
            "How a shot without a scene cut continues the one before it, and so which StoryMem LoRA loads: "
            "Wan2.2-MI2V-A14B or Wan2.2-MM2V-A14B (one per story, as the authors' runs).\nA cut always starts "
            "from memory alone (M2V). A continuing shot keeps 1 (MI2V) or 5 (MM2V) frames fewer: they repeat the "
            "previous shot's.")
        self.memory_size = _spin(1, MAX_MEMORY, settings.memory_size,
                                 "How many keyframes a shot is conditioned on at most (the model was trained with up "
                                 "to 10).")
        self.memory_sink = _spin(0, MAX_MEMORY, settings.memory_sink,
                                 "How many of the story's first keyframes every later shot always remembers (they "
                                 "anchor the characters' look);\nthe rest of the memory is the newest keyframes.")
        self.keyframes_per_shot = _spin(1, MAX_KEYFRAMES_PER_SHOT, settings.keyframes_per_shot,
                                        "At most this many frames of each finished shot join the memory.")
        self.keyframe_threshold = _fraction(settings.keyframe_threshold,
                                            "Frames less alike than this (CLIP similarity) count as new keyframes; "
                                            "the method starts at 0.9 and lowers it until few enough remain.")
        self.keyframe_memory_dedup = _fraction(settings.keyframe_memory_dedup,
                                               "A new keyframe this alike to one already in the memory is dropped.")
        self.offload = QComboBox()
        self.offload.addItems(OFFLOAD_CHOICES)
        self.offload.setCurrentText(settings.offload)
        self.offload_needs = NoteLabel()
        self.offload_needs.setObjectName("offload_needs")
        self._machine = None  # read once, when the figures are first shown
        self.offload.currentTextChanged.connect(self._show_needs)
        self.text_encoder_on_cpu = QCheckBox("Keep the text encoder (UMT5) on the CPU (less VRAM, slower prompts)")
        self.text_encoder_on_cpu.setChecked(settings.text_encoder_on_cpu)
        self.vae_tiling = QCheckBox("Tile the VAE (less VRAM; the official run encodes whole frames)")
        self.vae_tiling.setChecked(settings.vae_tiling)
        self.vae_tiling.setObjectName("vae_tiling")
        self.vae_tiling.setToolTip("Off: whole frames, as the method. The group_offload and sequential presets tile "
                                   "anyway, since whole frames need more VRAM than they leave.")

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        # The Draft profile sets its own steps and guidance (4, CFG off): the fields would only seem to apply.
        self.profile.currentIndexChanged.connect(self._profile_fields)
        self._profile_fields()
        form.addRow("Quality profile", self.profile)
        form.addRow("Size (WxH)", self.size)
        form.addRow("Frames per shot", self.frames)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Story seed", self.seed)
        form.addRow("Shot seeds", self.seed_rule)
        form.addRow("Continuation", self.continuation)
        form.addRow("Memory size (keyframes)", self.memory_size)
        form.addRow("Memory sink (kept first)", self.memory_sink)
        form.addRow("Keyframes per shot (max)", self.keyframes_per_shot)
        form.addRow("Keyframe similarity threshold (start)", self.keyframe_threshold)
        form.addRow("Drop keyframes repeating a saved one above", self.keyframe_memory_dedup)
        form.addRow("Offload preset", self.offload)
        form.addRow("", self.offload_needs)
        form.addRow("Text encoder", self.text_encoder_on_cpu)
        form.addRow("VAE", self.vae_tiling)
        self._show_needs()

    def _profile_fields(self) -> None:
        final = self.profile.currentData() != "draft"
        for field in (self.steps, self.guidance):
            field.setEnabled(final)

    def correct(self) -> list[str]:
        """Put the nearest valid size, frame count and memory sink in the fields; what was changed, in words."""
        fixes = []
        text = self.size.currentText().strip().lower().replace(" ", "")
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
        self.size.setCurrentText(f"{width}x{height}")
        frames = self.frames.value()
        if (frames - 1) % 4:
            fixed = min(MAX_FRAMES, max(5, round((frames - 1) / 4) * 4 + 1))
            fixes.append(f"frames {frames} -> {fixed} (a clip has 4n+1 frames)")
            self.frames.setValue(fixed)
        if self.memory_sink.value() > self.memory_size.value():
            fixes.append(f"memory sink {self.memory_sink.value()} -> {self.memory_size.value()} (at most the memory "
                         "size)")
            self.memory_sink.setValue(self.memory_size.value())
        return fixes

    def values(self) -> RenderSettings:
        """The form's settings (call correct() first: a size that does not parse keeps the original one)."""
        try:
            width, height = (int(v) for v in self.size.currentText().strip().lower().replace(" ", "").split("x"))
        except ValueError:
            width, height = self.original.size
        # A seed beyond the spin box's range stays as it was unless the user changed the field.
        seed = self.original.seed if self.seed.value() == min(self.original.seed, MAX_SPIN_SEED) else self.seed.value()
        return replace(
            self.original, width=width, height=height, frames=self.frames.value(), steps=self.steps.value(),
            guidance=self.guidance.value(), seed=seed, seed_rule=self.seed_rule.currentData(),
            memory_size=self.memory_size.value(), memory_sink=min(self.memory_sink.value(), self.memory_size.value()),
            keyframes_per_shot=self.keyframes_per_shot.value(), keyframe_threshold=self.keyframe_threshold.value(),
            keyframe_memory_dedup=self.keyframe_memory_dedup.value(), offload=self.offload.currentText(),
            text_encoder_on_cpu=self.text_encoder_on_cpu.isChecked(), vae_tiling=self.vae_tiling.isChecked(),
            profile=self.profile.currentData(), continuation=self.continuation.currentData(),
        )

    def _show_needs(self) -> None:
        """What the chosen preset needs (accounting.py) next to what this machine has; for "auto", what the engine
        would pick here and why."""
        from storymem_engine.accounting import choose_preset, fits, fitting_preset, preset_needs, this_machine
        from storymem_engine.models import AUTO_OFFLOAD, OFFLOAD_HELP

        if self._machine is None:
            self._machine = this_machine()
        preset = self.offload.currentText()
        if preset == AUTO_OFFLOAD:
            chosen, reason = choose_preset(self._machine.vram_gib, self._machine.ram_gib)
            self.offload_needs.setText(f"The engine picks the preset when it starts, from the GPU's free memory. "
                                       f"Here: {reason[:1].lower()}{reason[1:]}")  # "No preset fits ..." mid-line
            self.offload_needs.setStyleSheet(NOTE_STYLE)
            self.offload.setToolTip("auto: the fastest preset that fits this machine (the generation's status "
                                    "line says which and why)")
            return
        needs = preset_needs(preset)
        ok = fits(needs, self._machine)
        text = (f"Needs {needs.ram_gib:.1f} GiB RAM, {needs.vram_gib:.1f} GiB VRAM (Wan2.2) · "
                f"this machine: {self._machine.describe()}")
        if not ok:
            better = fitting_preset(self._machine)
            text += (f"\nDoes not fit this machine: {better} does." if better
                     else "\nNo preset fits this machine (the tiny engine runs).")
        self.offload_needs.setText(text)
        self.offload_needs.setStyleSheet(NOTE_STYLE if ok else "color:#f59e0b;")
        self.offload.setToolTip(OFFLOAD_HELP.get(preset, ""))


def _choices(choices: tuple[tuple[str, str], ...], value: str, name: str, tip: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    for key, label in choices:
        combo.addItem(label, key)
    combo.setCurrentIndex(max(0, combo.findData(value)))
    combo.setToolTip(tip)
    return combo


def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


def _fraction(value: float, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0.5, 1.0)
    spin.setSingleStep(0.01)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin
