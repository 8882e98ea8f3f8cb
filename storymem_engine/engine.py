"""The engine: loads the models once and turns one GenerationRequest into frames.

Flow for one shot, top to bottom: encode prompt -> build the memory condition -> denoise with the
two experts (high noise until the boundary, then low noise) -> decode -> drop memory frames and
repeated first frames. Progress is reported per denoising step; cancellation is checked per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storymem_engine.models import (
    KEYFRAME_SIMILARITIES,
    LOW_VRAM_PRESETS,
    ModelLayout,
    check_models,
    check_offload,
    next_lower_preset,
)
from storymem_engine.request import DROPPED_FRAMES, GenerationRequest
from storymem_engine.tiny import TINY_LABEL, ensure_tiny_models

PHASE_LOADING = "loading models"
PHASE_ENCODING = "encoding"
PHASE_HIGH = "high-noise expert"
PHASE_LOW = "low-noise expert"
PHASE_DECODING = "decoding"
PHASE_KEYFRAMES = "keyframes"


class EngineError(RuntimeError):
    """A generation failure with a message meant for the user."""


class GenerationCancelled(EngineError):
    pass


class OutOfMemory(EngineError):
    pass


@dataclass
class Progress:
    shot_id: str
    step: int
    total: int
    phase: str
    elapsed: float


ProgressFn = Callable[[Progress], None]
CancelFn = Callable[[], bool]


@dataclass
class EngineSettings:
    engine: str = "wan"  # "wan" or "tiny"
    models_dir: str | None = None
    continuation: str = "mi2v"  # which StoryMem LoRA: "mi2v" or "mm2v"
    first_shot: str = "t2v"
    offload: str = "model_offload"
    rope_stride: int = 1
    # Whole-frame VAE encode/decode, as the reference: tiling changes the latents (1.6% on the tiny VAE).
    # The low-VRAM offload presets tile anyway (see vae_tiled); True asks for it with any preset.
    vae_tiling: bool = False
    text_encoder_on_cpu: bool = False
    device: str | None = None  # None: CUDA when present, else CPU
    # Keyframe similarity: "clip" (CLIP ViT-B/32 from the models folder, the method) or "hsv" (the
    # model-free measure, only when the user chooses it: every take then says so).
    keyframe_similarity: str = "clip"
    clip_weights: str | None = None  # a CLIP folder or file instead of <models>/CLIP-ViT-B-32

    def validate(self) -> None:
        if self.engine not in ("wan", "tiny"):
            raise ValueError(f"unknown engine {self.engine!r} (expected wan or tiny)")
        if self.continuation not in ("mi2v", "mm2v"):
            raise ValueError(f"unknown continuation {self.continuation!r} (expected mi2v or mm2v)")
        if self.first_shot not in ("t2v", "m2v"):
            raise ValueError(f"unknown first shot mode {self.first_shot!r} (expected t2v or m2v)")
        check_offload(self.offload)
        if self.rope_stride < 1:
            raise ValueError(f"rope stride must be >= 1, got {self.rope_stride}")
        if self.keyframe_similarity not in KEYFRAME_SIMILARITIES:
            raise ValueError(f"unknown keyframe similarity {self.keyframe_similarity!r} (expected clip or hsv)")

    @property
    def vae_tiled(self) -> bool:
        return self.vae_tiling or self.offload in LOW_VRAM_PRESETS

    @property
    def label(self) -> str:
        return TINY_LABEL if self.engine == "tiny" else "Wan2.2 A14B + StoryMem"


def to_tensor_image(frame: np.ndarray):
    """uint8 [H, W, 3] -> float [3, H, W] in [-1, 1]."""
    import torch

    return torch.from_numpy(np.array(frame, copy=True)).permute(2, 0, 1).float() / 127.5 - 1.0


class StoryMemEngine:
    def __init__(self, settings: EngineSettings) -> None:
        settings.validate()
        self.settings = settings
        self._t2v = None
        self._m2v = None
        self._device = None
        self._active = None
        self._similarity = None

    @property
    def label(self) -> str:
        return self.settings.label

    # ------------------------------------------------------------------ loading
    def _resolve_device(self):
        import torch

        if self.settings.device:
            return torch.device(self.settings.device)
        if self.settings.engine == "wan" and not torch.cuda.is_available():
            raise EngineError("The Wan2.2 engine needs a CUDA GPU and none was found. "
                              "Use the tiny engine to check the install on this machine.")
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def _models_folder(self) -> Path:
        if self.settings.engine == "tiny":
            return ensure_tiny_models(Path(self.settings.models_dir) if self.settings.models_dir else None)
        if not self.settings.models_dir:
            raise EngineError("No models folder is set (Settings > Models folder, or --models DIR).")
        return Path(self.settings.models_dir)

    @property
    def _clip_from_models_folder(self) -> bool:
        return self.settings.keyframe_similarity == "clip" and not self.settings.clip_weights

    def keyframe_similarity(self):
        """The similarity keyframe extraction uses: CLIP ViT-B/32 (the method's) unless the user chose HSV.

        Built once per engine; the CLIP weights come from the models folder (checked with the other
        model files before anything loads) or from ``clip_weights``.
        """
        from storymem_engine.similarity import ClipWeightsError, HsvPatchSimilarity, load_clip_similarity

        if self._similarity is None:
            if self.settings.keyframe_similarity == "hsv":
                self._similarity = HsvPatchSimilarity()
            else:
                if self.settings.clip_weights:
                    source = Path(self.settings.clip_weights)
                else:
                    source = ModelLayout(self._models_folder(), self.settings.continuation).clip
                    check_models(source.parent, self.settings.continuation, "m2v", clip=True, only_clip=True)
                try:
                    # On the CPU in float32 whatever the generator runs on, as the reference (see ClipSimilarity).
                    self._similarity = load_clip_similarity(source)
                except (ClipWeightsError, FileNotFoundError) as exc:
                    raise EngineError(f"{exc}. Download the CLIP weights (README: Getting the models), or choose "
                                      "the model-free keyframe similarity (Settings > Keyframes, "
                                      "--keyframe-similarity hsv).") from None
        return self._similarity

    def load(self, need_t2v: bool = True) -> None:
        """Load models once; a later call only adds the T2V pipeline if it was not loaded yet."""
        import torch

        from storymem_engine.lora import load_storymem_lora_pair
        from storymem_engine.models import load_pipelines
        from storymem_engine.rope import install_memory_rope

        if self._m2v is not None and (self._t2v is not None or not need_t2v):
            return
        folder = self._models_folder()
        layout = check_models(folder, self.settings.continuation, "t2v" if need_t2v else "m2v",
                              clip=self._clip_from_models_folder)
        self._device = self._resolve_device()
        dtype = torch.bfloat16 if self._device.type == "cuda" else torch.float32
        t2v, m2v = load_pipelines(layout, need_t2v, dtype, self.settings.vae_tiled)
        if self._m2v is None:
            load_storymem_lora_pair(m2v.transformer, m2v.transformer_2, layout.lora)
            for transformer in (m2v.transformer, m2v.transformer_2):
                install_memory_rope(transformer, self.settings.rope_stride)
            self._m2v = m2v
        if t2v is not None:
            # Share the one VAE and text encoder rather than holding two copies in memory.
            t2v.vae, t2v.text_encoder, t2v.tokenizer = self._m2v.vae, self._m2v.text_encoder, self._m2v.tokenizer
            self._t2v = t2v

    def _activate(self, pipe) -> None:
        from storymem_engine.models import apply_offload, release_offload

        if self._active is pipe:
            return
        if self._active is not None:
            release_offload(self._active, self.settings.offload)
        apply_offload(pipe, self.settings.offload, self._device, self.settings.text_encoder_on_cpu)
        self._active = pipe

    def unload(self) -> None:
        self._t2v = None
        self._m2v = None
        self._active = None
        self._similarity = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    # --------------------------------------------------------------- generation
    def generate(
        self,
        request: GenerationRequest,
        memory: Sequence[np.ndarray] = (),
        first_frame: np.ndarray | None = None,
        motion_frames: np.ndarray | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> np.ndarray:
        """Frames of one shot as uint8 [F_out, H, W, 3] (memory and repeated frames dropped)."""
        import torch

        start = time.monotonic()

        def report(step: int, phase: str) -> None:
            if progress is not None:
                progress(Progress(request.shot_id, step, request.steps, phase, time.monotonic() - start))

        def check_cancel() -> None:
            if cancel is not None and cancel():
                raise GenerationCancelled(f"generation of {request.shot_id} was cancelled")

        check_cancel()
        if request.mode == "mm2v" and self.settings.continuation != "mm2v":
            raise EngineError("MM2V needs the MM2V StoryMem LoRA: set the continuation to MM2V in Settings.")
        try:
            if self._m2v is None or (request.mode == "t2v" and self._t2v is None):
                report(0, PHASE_LOADING)  # minutes for the real models: say so rather than sit at step 0
            self.load(need_t2v=request.mode == "t2v")
            report(0, PHASE_ENCODING)
            pipe = self._t2v if request.mode == "t2v" else self._m2v
            self._activate(pipe)
            from storymem_engine.sampling import reference_scheduler

            # The official sampler's grid, not diffusers' default one (see sampling.py).
            pipe.scheduler = reference_scheduler(pipe.scheduler.config, request.shift)
            pipe.register_to_config(boundary_ratio=request.boundary_ratio)
            boundary = request.boundary_ratio * pipe.scheduler.config.num_train_timesteps

            def on_step(_pipe, i, t, kwargs):
                check_cancel()
                report(i + 1, PHASE_HIGH if t >= boundary else PHASE_LOW)
                return {}

            # The reference draws the noise on the GPU: a CUDA generator there, so a seed gives the
            # official run's noise ([16, M+T, h, w] float32 in one draw, as diffusers' randn_tensor does).
            generator = torch.Generator(self._device if self._device.type == "cuda" else "cpu")
            generator.manual_seed(int(request.seed))
            common = dict(
                prompt=request.prompt, negative_prompt=request.negative_prompt, height=request.height,
                width=request.width, num_frames=request.num_frames, num_inference_steps=request.steps,
                # Both experts at the same guidance, as the reference (diffusers would default it too).
                guidance_scale=request.guidance, guidance_scale_2=request.guidance,
                generator=generator, callback_on_step_end=on_step,
            )
            with torch.no_grad():
                if request.mode == "t2v":
                    video = pipe(output_type="pt", return_dict=False, **common)[0][0]  # [F, 3, H, W]
                    frames = video.permute(0, 2, 3, 1).float().cpu()
                else:
                    condition = self._condition(request, memory, first_frame, motion_frames)
                    check_cancel()
                    report(0, PHASE_HIGH)
                    frames = pipe.generate_with_memory(condition, len(memory), **common)
                    report(request.steps, PHASE_DECODING)
        except torch.cuda.OutOfMemoryError as exc:
            lower = next_lower_preset(self.settings.offload)
            hint = (f"Try the '{lower}' offload preset (Settings > Offload)." if lower
                    else "Reduce the frame count or size.")
            raise OutOfMemory(f"The GPU ran out of memory with the '{self.settings.offload}' preset. {hint}") from exc
        frames = frames[DROPPED_FRAMES[request.mode]:]
        return (frames.clamp(0, 1) * 255).round().to(torch.uint8).numpy()

    def _condition(self, request, memory, first_frame, motion_frames):
        from storymem_engine.conditioning import build_memory_condition

        # Check the continuation inputs before converting them, so a missing one is a clear message.
        if request.mode == "mi2v" and first_frame is None:
            raise EngineError(f"{request.shot_id}: MI2V needs the previous shot's last frame")
        if request.mode == "mm2v" and (motion_frames is None or len(motion_frames) != 5):
            raise EngineError(f"{request.shot_id}: MM2V needs the previous shot's last 5 frames")
        vae = self._m2v.vae
        with_images = [to_tensor_image(m) for m in memory]
        first = to_tensor_image(first_frame) if request.mode == "mi2v" else None
        motion = None
        if request.mode == "mm2v":
            import torch

            motion = torch.stack([to_tensor_image(f) for f in motion_frames])
        return build_memory_condition(vae, with_images, request.num_frames, request.height, request.width,
                                      first_frame=first, motion_frames=motion)
