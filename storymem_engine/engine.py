"""The engine: loads the models once and turns one GenerationRequest into frames.

Flow for one shot, top to bottom: encode prompt -> build the memory condition -> denoise with the
two experts (high noise until the boundary, then low noise) -> decode -> drop memory frames and
repeated first frames. Progress is reported per denoising step; cancellation is checked per step.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from storymem_engine.models import (
    ATTENTION_BACKENDS,
    AUTO_OFFLOAD,
    FP8_PRESETS,
    KEYFRAME_SIMILARITIES,
    LOW_VRAM_PRESETS,
    ModelLayout,
    check_models,
    check_offload,
    distill_download_command,
    distill_lora_missing,
    lora_download_command,
    next_lower_preset,
)
from storymem_engine.multi_gpu import PARALLEL_MODES
from storymem_engine.request import DROPPED_FRAMES, MODE_SCHEDULE, GenerationRequest
from storymem_engine.shot_modes import continuation_mismatch
from storymem_engine.tiny import TINY_LABEL, TinyFolderError, ensure_tiny_models

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
    # Keep the T2V and the M2V experts loaded together (four experts in RAM, ~110 GiB for A14B): only for
    # machines with that much RAM, and for benchmarks. Off: one pair at a time.
    hold_both_pipelines: bool = False
    # Before the first load, compare what the preset needs with this machine's RAM and VRAM and refuse with
    # both numbers (accounting.py) instead of being killed half-way. False only for machines with swap.
    check_memory: bool = True
    # Attention kernel for both experts (diffusers' attention dispatcher): "auto" picks flash-attn or SageAttention on
    # CUDA when importable, else PyTorch SDPA ("native", what runs when nothing is set); the engine records the one
    # it uses in `attention_backend_name`.
    attention_backend: str = "auto"
    # Regional torch.compile of the experts' repeated transformer blocks (diffusers' compile_repeated_blocks): the
    # first shot compiles (minutes), the later ones run faster. Off by default.
    compile_blocks: bool = False
    # Context parallelism across the ranks of a torch.distributed group (render --gpus N): "" off (one process),
    # "ulysses" or "ring". Each rank runs the whole pipeline; the experts split the video tokens (distributed.py).
    parallel: str = ""
    # With parallel: each rank holds 1/N of both experts' weights (FSDP2, every block gathered as it runs), for
    # experts that do not fit one GPU beside their activations. Keeps the experts on the GPUs: offload full_gpu.
    shard_weights: bool = False

    def validate(self) -> None:
        if self.engine not in ("wan", "tiny"):
            raise ValueError(f"unknown engine {self.engine!r} (expected wan or tiny)")
        if self.continuation not in ("mi2v", "mm2v"):
            raise ValueError(f"unknown continuation {self.continuation!r} (expected mi2v or mm2v)")
        if self.first_shot not in ("t2v", "m2v"):
            raise ValueError(f"unknown first shot mode {self.first_shot!r} (expected t2v or m2v)")
        if self.offload != AUTO_OFFLOAD:
            check_offload(self.offload)
        if self.attention_backend not in ATTENTION_BACKENDS:
            raise ValueError(f"unknown attention backend {self.attention_backend!r} "
                             f"(expected one of: {', '.join(ATTENTION_BACKENDS)})")
        if self.rope_stride < 1:
            raise ValueError(f"rope stride must be >= 1, got {self.rope_stride}")
        if self.keyframe_similarity not in KEYFRAME_SIMILARITIES:
            raise ValueError(f"unknown keyframe similarity {self.keyframe_similarity!r} (expected clip or hsv)")
        if self.parallel not in ("", *PARALLEL_MODES):
            raise ValueError(f"unknown parallel mode {self.parallel!r} (expected ulysses or ring)")
        if self.shard_weights and not self.parallel:
            raise ValueError("sharding the weights splits them across the GPUs of a group: it needs 2 or more GPUs")
        if self.shard_weights and self.offload != "full_gpu":
            raise ValueError(f"sharded weights stay on the GPUs: the offload preset must be full_gpu, not "
                             f"{self.offload!r}")
        if self.parallel and self.offload == "sequential":
            # accelerate's per-module hooks move each layer as it runs; with the experts' context-parallel hooks on
            # top that has never run (CUDA only, not checked): refused rather than risked on a long queue.
            raise ValueError("the 'sequential' offload preset cannot be split across GPUs; choose group_offload or "
                             "model_offload, or 1 GPU per shot")

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
        self._pipes: dict[str, Any] = {}  # "t2v" / "m2v" -> pipeline; at most one pair of experts at a time
        self._shared = None  # text encoder, tokenizer, VAE: loaded once, shared by both pipelines
        self._device = None
        self._active = None
        self._similarity = None
        self.load_counts: Counter[str] = Counter()  # what was loaded from disk, and how often
        # The offload preset in use and why (the settings', or what "auto" chose for this machine), for the app.
        self.preset_reason = self._resolve_offload()
        self.attention_backend_name: str | None = None  # the attention kernel in use, known once a pipeline loads

    @property
    def label(self) -> str:
        return self.settings.label

    def take_backends(self) -> dict[str, str]:
        """What a take records about how this engine ran beyond the request: the GPUs a shot was split across."""
        if not self.settings.parallel:
            return {}
        from storymem_engine.distributed import world_size

        sharded = ", weights sharded" if self.settings.shard_weights else ""
        return {"gpus": f"{world_size()} ({self.settings.parallel}{sharded})"}

    # ------------------------------------------------------------------ loading
    def _resolve_offload(self) -> str:
        """Replace an "auto" offload setting with the fastest preset that fits this machine; return the reason."""
        preset = self.settings.offload
        if preset != AUTO_OFFLOAD:
            return f"'{preset}' as set in the settings."
        if self.settings.engine == "tiny":
            chosen, reason = "model_offload", ("'model_offload' for the tiny engine: the preset figures are the "
                                               "A14B models', which the tiny engine does not load.")
        else:
            from storymem_engine.accounting import choose_preset, gpu_free_memory, host_ram_gib

            chosen, reason = choose_preset(gpu_free_memory(), host_ram_gib(), self.settings.text_encoder_on_cpu)
        self.settings.offload = chosen
        return reason

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
            try:
                return ensure_tiny_models(Path(self.settings.models_dir) if self.settings.models_dir else None)
            except TinyFolderError as exc:
                raise EngineError(str(exc)) from None
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
                    # load() checked it with the other model files; load_clip_similarity names any file missing.
                    source = ModelLayout(self._models_folder(), self.settings.continuation).clip
                try:
                    # On the CPU in float32 whatever the generator runs on, as the reference (see ClipSimilarity).
                    self._similarity = load_clip_similarity(source)
                except (ClipWeightsError, FileNotFoundError) as exc:
                    raise EngineError(f"{exc}. Download the CLIP weights (README: Getting the models), or choose "
                                      "the model-free keyframe similarity (Settings > Keyframe similarity, "
                                      "--keyframe-similarity hsv).") from None
        return self._similarity

    @property
    def _t2v(self):
        return self._pipes.get("t2v")

    @property
    def _m2v(self):
        return self._pipes.get("m2v")

    def load(self, kind: str = "m2v"):
        """Load what a shot of ``kind`` needs ("t2v": the T2V experts; "m2v": the I2V experts + StoryMem LoRA)
        and return its pipeline.

        Only one pair of experts is held at a time: the other kind's are put away first (hooks removed,
        collected), so RAM holds two experts, one text encoder and one VAE, never four experts. The text
        encoder, tokenizer and VAE are loaded once and shared. T2V is normally needed for shot 1 only.
        """
        import torch

        from storymem_engine.models import build_pipeline, free_memory, load_shared

        if kind not in ("t2v", "m2v"):
            raise ValueError(f"unknown pipeline kind {kind!r} (expected t2v or m2v)")
        if kind in self._pipes:
            return self._pipes[kind]
        folder = self._models_folder()
        layout = check_models(folder, self.settings.continuation, "t2v" if kind == "t2v" else "m2v",
                              clip=self._clip_from_models_folder)
        self._device = self._resolve_device()
        if self.settings.engine == "wan" and self.settings.check_memory and not self._pipes:
            self._check_memory()
        if not self.settings.hold_both_pipelines:
            for other in list(self._pipes):
                self._put_away(other)
        if self.settings.offload in FP8_PRESETS and self._shared is not None:
            # An expert loads in bf16 before it is cast: with the text encoder out of RAM meanwhile, the
            # loading peak stays below what the preset holds afterwards (see accounting.py).
            self._shared = None
            free_memory()
        dtype = torch.bfloat16 if self._device.type == "cuda" else torch.float32
        repo = layout.t2v if kind == "t2v" else layout.i2v
        # Experts first, then the shared parts: the same order keeps the fp8 loading peak low.
        experts = [self._load_expert(layout, repo, sub, kind, dtype) for sub in ("transformer", "transformer_2")]
        if self._shared is None:
            self._shared = load_shared(layout, dtype, self.settings.vae_tiled)
            self.load_counts["shared"] += 1
        boundary = MODE_SCHEDULE["t2v" if kind == "t2v" else "m2v"][1]
        self._pipes[kind] = build_pipeline(kind, repo, self._shared, experts, boundary)
        self.load_counts[kind] += 1
        for expert in experts:
            self._speed_up(expert)
        if self.settings.parallel:
            self._parallelize(experts)
        return self._pipes[kind]

    def _parallelize(self, experts) -> None:
        """Context parallelism on both experts (after the LoRA, RoPE and attention backend are in place)."""
        from storymem_engine.distributed import enable_context_parallel

        enable_context_parallel(experts, self.settings.parallel, self.attention_backend_name or "native")
        if self.settings.shard_weights:
            from storymem_engine.distributed import shard_weights

            shard_weights(experts)

    def _attention_backend(self) -> str:
        """The attention kernel the settings ask for, "auto" resolved: flash or sage on CUDA when importable."""
        wanted = self.settings.attention_backend
        if wanted != "auto":
            return wanted
        if self._device is None or self._device.type != "cuda":
            return "native"
        from diffusers.utils import is_flash_attn_available, is_sageattention_available

        if is_flash_attn_available():
            return "flash"
        if is_sageattention_available():
            return "sage"
        return "native"

    def _speed_up(self, expert) -> None:
        """The attention backend and the regional compile, on one loaded expert (LoRA and RoPE already in)."""
        backend = self._attention_backend()
        if backend != "native":
            # "native" is diffusers' default dispatch (SDPA): setting nothing keeps the computation as it was.
            try:
                expert.set_attention_backend(backend)
            except Exception as exc:  # noqa: BLE001 - a missing kernel package is a message, not a traceback
                raise EngineError(f"The '{backend}' attention backend cannot run here: {exc}. Choose 'auto' or "
                                  "'native' in Settings.") from None
        self.attention_backend_name = backend
        if self.settings.compile_blocks:
            expert.compile_repeated_blocks(fullgraph=False, dynamic=True)

    def _check_memory(self) -> None:
        from storymem_engine.accounting import InsufficientMemory, preflight, this_machine

        try:
            shards = 1
            if self.settings.shard_weights:
                from storymem_engine.distributed import world_size

                shards = world_size()
            preflight(self.settings.offload, this_machine(), self.settings.text_encoder_on_cpu, shards=shards)
        except InsufficientMemory as exc:
            raise EngineError(str(exc)) from None

    def _load_expert(self, layout, repo: Path, subfolder: str, kind: str, dtype):
        """One expert (with its StoryMem LoRA and memory RoPE for M2V), cast to fp8 before the next loads."""
        from storymem_engine.lora import HIGH_NOISE_NAME, LOW_NOISE_NAME, LoraError, find_lora_file, load_storymem_lora
        from storymem_engine.models import load_expert, store_in_fp8
        from storymem_engine.rope import install_memory_rope

        expert = load_expert(repo, subfolder, dtype)
        if kind == "m2v":
            name = HIGH_NOISE_NAME if subfolder == "transformer" else LOW_NOISE_NAME
            path = find_lora_file(layout.lora, name)
            if path is None:
                raise LoraError(f"missing StoryMem LoRA file in {layout.lora}: {name}.safetensors or {name}.pth")
            try:
                load_storymem_lora(expert, path)
            except LoraError as exc:
                if str(path) in str(exc):
                    raise
                # "LoRA key 'x' is not a lora_A/lora_B weight" named neither the file nor the way out.
                raise LoraError(f"{path} is not the StoryMem LoRA: {exc}. Download it again: "
                                f"{lora_download_command(layout.root, layout.continuation)}") from exc
            install_memory_rope(expert, self.settings.rope_stride)
        if self.settings.offload in FP8_PRESETS:
            store_in_fp8(expert, dtype)
        return expert

    def _activate(self, pipe) -> None:
        from storymem_engine.models import apply_offload, release_offload

        if self._active is pipe:
            return
        previous, self._active = self._active, None  # never leave a released pipeline marked active
        if previous is not None:
            release_offload(previous, self.settings.offload)
        apply_offload(pipe, self.settings.offload, self._device, self.settings.text_encoder_on_cpu)
        self._active = pipe

    def _deactivate(self) -> None:
        from storymem_engine.models import free_memory, release_offload

        previous, self._active = self._active, None
        if previous is not None:
            release_offload(previous, self.settings.offload)
        free_memory()

    def _put_away(self, kind: str) -> None:
        """Drop one pipeline's experts (the shared parts stay): hooks off, references gone, memory collected."""
        pipe = self._pipes.pop(kind, None)
        if pipe is None:
            return
        if self._active is pipe:
            self._deactivate()
        pipe.transformer = pipe.transformer_2 = None
        del pipe
        from storymem_engine.models import free_memory

        free_memory()

    def unload(self) -> None:
        """Free every model this engine holds (hooks removed, cycles collected, CUDA cache emptied)."""
        self._active = None
        for kind in list(self._pipes):
            pipe = self._pipes.pop(kind)
            try:
                from storymem_engine.models import release_offload

                release_offload(pipe, self.settings.offload)
            except Exception:  # noqa: BLE001 - unloading must always finish; the references go anyway
                pass
            del pipe
        self._shared = None
        self._similarity = None
        try:
            from storymem_engine.models import free_memory

            free_memory()
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
        if request.mode in ("mi2v", "mm2v") and request.mode != self.settings.continuation:
            raise EngineError(continuation_mismatch(request.shot_id, request.mode, self.settings.continuation))
        retried = False
        while True:
            try:
                frames = self._generate_once(request, memory, first_frame, motion_frames, report, check_cancel)
                break
            except torch.cuda.OutOfMemoryError:
                preset = self.settings.offload
                self._deactivate()  # hooks off, reference cycles collected, cached blocks returned
                # Not with context parallelism: a retry on one rank alone would pair its collectives with the other
                # ranks' later steps. The rank fails, and every rank stops with it.
                lower = (None if retried or preset in FP8_PRESETS or self.settings.parallel
                         else next_lower_preset(preset, exact_only=True))
                if lower is None:
                    down = next_lower_preset(preset)
                    hint = (f"Try the '{down}' offload preset (Generate > Render settings > Offload preset, or "
                            "--offload)." if down
                            else "Reduce the frame count or size.")
                    raise OutOfMemory(f"The GPU ran out of memory with the '{preset}' preset. {hint}") from None
                # Once, with the next preset down (same numbers, less VRAM), rather than fail a long queue.
                retried = True
                self.settings.offload = request.offload = lower
                if self.settings.vae_tiled and self._shared is not None:
                    self._shared.vae.enable_tiling()
                request.vae_tiling = self.settings.vae_tiled
                report(0, f"out of GPU memory with {preset}: retrying with {lower}")
        frames = frames[DROPPED_FRAMES[request.mode]:]
        return (frames.clamp(0, 1) * 255).round().to(torch.uint8).numpy()

    def _generate_once(self, request, memory, first_frame, motion_frames, report, check_cancel):
        """One attempt at a shot: float frames [F, H, W, 3] in [0, 1], before dropping repeated frames."""
        import torch

        from storymem_engine.sampling import draft_scheduler, reference_scheduler

        kind = "t2v" if request.mode == "t2v" else "m2v"
        draft = request.profile == "draft"
        if draft and self.settings.shard_weights:
            # The distilled LoRA is added to the experts on the first draft shot; sharded experts cannot take it.
            raise EngineError("Draft shots cannot run with sharded weights: choose the Final profile, or turn off "
                              "weight sharding (Settings > GPUs; render without --shard-weights).")
        if draft:
            self._check_draft_files(kind)  # before minutes of loading, let alone denoising
        if kind not in self._pipes:
            report(0, PHASE_LOADING)  # minutes for the real models: say so rather than sit at step 0
        pipe = self.load(kind)
        report(0, PHASE_ENCODING)
        self._set_profile(pipe, kind, draft)
        self._activate(pipe)
        # The repo's scheduler config, kept before a draft replaces the scheduler with another kind.
        repo_config = pipe.__dict__.setdefault("_repo_scheduler_config", pipe.scheduler.config)
        # Final: the official sampler's grid, not diffusers' default one; draft: lightx2v's (see sampling.py).
        pipe.scheduler = (draft_scheduler(request.shift) if draft
                          else reference_scheduler(repo_config, request.shift))
        pipe.register_to_config(boundary_ratio=request.boundary_ratio)
        boundary = request.boundary_ratio * pipe.scheduler.config.num_train_timesteps

        def on_step(_pipe, i, t, kwargs):
            check_cancel()
            report(i + 1, PHASE_HIGH if t >= boundary else PHASE_LOW)
            if i + 1 == request.steps:
                # The VAE decode follows the last step inside the pipeline call (seconds at 832x480): the status
                # said "step 40/40 · low-noise expert" meanwhile.
                report(i + 1, PHASE_DECODING)
            return {}

        # The reference draws the noise on the GPU: a CUDA generator there, so a seed gives the
        # official run's noise ([16, M+T, h, w] float32 in one draw, as diffusers' randn_tensor does).
        generator = torch.Generator(self._device if self._device.type == "cuda" else "cpu")
        generator.manual_seed(int(request.seed))
        common = dict(
            height=request.height, width=request.width, num_frames=request.num_frames,
            num_inference_steps=request.steps,
            # Both experts at the same guidance, as the reference (diffusers would default it too).
            guidance_scale=request.guidance, guidance_scale_2=request.guidance,
            generator=generator, callback_on_step_end=on_step, **self._prompt_inputs(pipe, request),
        )
        with torch.no_grad():
            if request.mode == "t2v":
                video = pipe(output_type="pt", return_dict=False, **common)[0][0]  # [F, 3, H, W]
                return video.permute(0, 2, 3, 1).float().cpu()
            condition = self._condition(request, memory, first_frame, motion_frames)
            check_cancel()
            report(0, PHASE_HIGH)
            return pipe.generate_with_memory(condition, len(memory), **common)

    # ------------------------------------------------------------------ draft profile
    def _check_draft_files(self, kind: str) -> None:
        folder = self._models_folder()
        missing = distill_lora_missing(folder, (kind,))
        if missing:
            raise EngineError("The draft profile needs lightx2v's distilled LoRA, missing from the models folder: "
                              + ", ".join(missing) + ". Download it with:\n  "
                              + distill_download_command(folder, (kind,)))

    def _set_profile(self, pipe, kind: str, draft: bool) -> None:
        """Switch a pipeline's experts to the draft (distill adapter on) or final profile (off: as loaded).

        The distill pair loads on a pipeline's first draft shot, once; a final shot before that touches nothing.
        """
        from storymem_engine.lora import distill_state, set_distill_active

        experts = (pipe.transformer, pipe.transformer_2)
        states = [distill_state(e) for e in experts]
        if all(s is None for s in states) and not draft:
            return
        if all(s is not None and s.active == draft for s in states):
            return
        if self.settings.offload in LOW_VRAM_PRESETS and self._active is pipe:
            # Their hooks hold the weights (sequential: on the meta device) and would miss new LoRA layers: change
            # the experts with the hooks off; _activate puts them back.
            self._deactivate()
        if any(s is None for s in states):
            self._load_distill(pipe, kind)
        for expert in experts:
            set_distill_active(expert, draft)

    def _load_distill(self, pipe, kind: str) -> None:
        import torch

        from storymem_engine.lora import LoraError, distill_state, load_distill_lora, unload_distill

        high, low = ModelLayout(self._models_folder()).distill_files(kind)
        dtype = torch.bfloat16 if self._device is not None and self._device.type == "cuda" else torch.float32
        loaded = []
        try:
            for expert, path in ((pipe.transformer, high), (pipe.transformer_2, low)):
                if distill_state(expert) is None:  # an attempt cut short by running out of memory loaded one
                    load_distill_lora(expert, path, dtype=dtype)
                loaded.append(expert)
        except LoraError as exc:
            for expert in loaded:  # half a pair would distill only some steps: leave neither expert changed
                unload_distill(expert)
            raise EngineError(f"The distilled LoRA for the draft profile did not load: {exc}") from None
        self.load_counts[f"distill_{kind}"] += 1

    def _prompt_inputs(self, pipe, request) -> dict[str, Any]:
        """The prompt as the pipeline takes it: text, or with the encoder kept on the CPU, its embeddings
        (encoded there; only the embeddings move to the execution device)."""
        from storymem_engine.models import encode_prompt_on_cpu, text_encoder_stays_on_cpu

        if not text_encoder_stays_on_cpu(self.settings.offload, self.settings.text_encoder_on_cpu):
            return dict(prompt=request.prompt, negative_prompt=request.negative_prompt)
        embeds, negative = encode_prompt_on_cpu(pipe, request.prompt, request.negative_prompt, request.guidance)
        device = pipe._execution_device
        return dict(prompt_embeds=embeds.to(device),
                    negative_prompt_embeds=negative.to(device) if negative is not None else None)

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
