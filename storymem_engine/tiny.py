"""The tiny engine: random-weight Wan2.2-shaped models built from configs, saved in the same
folder layout as the real models, so the real loading, LoRA and sampling code runs on a CPU in
seconds. Its output is noise-like video from random weights, labelled as such everywhere.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from storymem_engine.models import CLIP_CONFIG, CLIP_WEIGHTS, DISTILL_FILES, LORA_FOLDERS, ModelLayout

# v2: adds the tiny CLIP ViT-B/32-family model for keyframes; v3: the draft profile's distilled LoRAs
TINY_VERSION = "tiny-v3"
TINY_LABEL = "tiny engine (random weights)"
TEXT_DIM = 32
LORA_RANK = 4
# The tiny engine is for a try-out: at 832x480, 81 frames and 40 steps it takes minutes per shot on a laptop
# CPU for noise-like video. The app runs it at these draft settings unless the user chose other values (the CLI
# example's order of size).
DRAFT_AREA = 128 * 80
DRAFT_FRAMES = 17
DRAFT_STEPS = 4


def draft_settings(width: int, height: int, frames: int, steps: int,
                   production: tuple[int, int, int, int] = (832, 480, 81, 40)) -> tuple[int, int, int, int]:
    """What the tiny engine runs for the chosen settings: each value left at the method's production default
    (``production``: width, height, frames, steps) becomes its draft value; a value the user chose is kept.
    The draft size keeps the aspect within DRAFT_AREA, sides multiples of 16."""
    if (width, height) == production[:2] and width * height > DRAFT_AREA:
        scale = (DRAFT_AREA / (width * height)) ** 0.5
        width = max(16, round(width * scale / 16) * 16)
        height = max(16, round(height * scale / 16) * 16)
    frames = DRAFT_FRAMES if frames == production[2] else frames
    steps = DRAFT_STEPS if steps == production[3] else steps
    return width, height, frames, steps


def default_tiny_dir() -> Path:
    base = os.environ.get("STORYMEM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "storymem-studio"
    )
    return Path(base) / TINY_VERSION


def _tokenizer():
    # Byte-level BPE with no merges: every byte is a token, so any prompt tokenizes offline.
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for ch in sorted(alphabet):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def _transformer(in_channels: int):
    from diffusers import WanTransformer3DModel

    # rope_max_seq_len 1024 (not 32) so the tiny engine also runs at 832x480 and long clips.
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=in_channels,
        out_channels=16, text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=1024,
    )


def _storymem_lora_state(num_layers: int, dim: int, ffn_dim: int, text_dim: int, seed: int) -> dict:
    """A synthetic LoRA in StoryMem's file format (peft keys on the original Wan module names)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    shapes = {f"{a}.{p}": (dim, dim) for a in ("self_attn", "cross_attn") for p in "qkvo"}
    shapes["ffn.0"] = (dim, ffn_dim)  # (in, out)
    shapes["ffn.2"] = (ffn_dim, dim)
    state = {}
    for n in range(num_layers):
        for module, (fan_in, fan_out) in shapes.items():
            key = f"base_model.model.blocks.{n}.{module}"
            state[f"{key}.lora_A.weight"] = torch.randn(LORA_RANK, fan_in, generator=gen) * 0.02
            state[f"{key}.lora_B.weight"] = torch.randn(fan_out, LORA_RANK, generator=gen) * 0.02
    return state


def distill_lora_state(in_channels: int, seed: int, num_layers: int = 2, dim: int = 24, ffn_dim: int = 32,
                       text_dim: int = TEXT_DIM, freq_dim: int = 256, out_channels: int = 16, rank: int = LORA_RANK,
                       image_attention: bool | None = None, style: str = "lightx2v") -> dict:
    """A synthetic distilled LoRA with the key names and shapes lightx2v/Wan2.2-Distill-Loras publishes.

    ``style`` "lightx2v": ``diffusion_model.`` + Wan names, ``lora_down`` / ``lora_up`` / ``alpha`` per Linear and
    ``diff`` / ``diff_b`` / ``diff_m`` full deltas (norms, biases, modulation, head, patch embedding); "kijai": the
    same with ``lora_A`` / ``lora_B`` (ComfyUI repacks). ``image_attention`` (default: an I2V expert, 36 input
    channels): Wan2.1's image cross-attention keys the I2V files carry although Wan2.2 has no such modules.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    down, up = ("lora_A.weight", "lora_B.weight") if style == "kijai" else ("lora_down.weight", "lora_up.weight")
    image_attention = in_channels == 36 if image_attention is None else image_attention
    state: dict = {}

    def lora(name: str, fan_in: int, fan_out: int, bias: bool = True) -> None:
        key = f"diffusion_model.{name}"
        state[f"{key}.{down}"] = torch.randn(rank, fan_in, generator=gen) * 0.05
        state[f"{key}.{up}"] = torch.randn(fan_out, rank, generator=gen) * 0.05
        state[f"{key}.alpha"] = torch.tensor(float(rank) / 2)  # alpha != rank: the alpha / r scale is exercised
        if bias:
            state[f"{key}.diff_b"] = torch.randn(fan_out, generator=gen) * 0.01

    def diff(name: str, *shape: int, suffix: str = "diff") -> None:
        state[f"diffusion_model.{name}.{suffix}"] = torch.randn(*shape, generator=gen) * 0.01

    for n in range(num_layers):
        block = f"blocks.{n}"
        for attn in ("self_attn", "cross_attn"):
            for proj in "qkvo":
                lora(f"{block}.{attn}.{proj}", dim, dim)
            diff(f"{block}.{attn}.norm_q", dim)
            diff(f"{block}.{attn}.norm_k", dim)
        if image_attention:
            for proj in ("k_img", "v_img"):
                lora(f"{block}.cross_attn.{proj}", dim, dim)
            diff(f"{block}.cross_attn.norm_k_img", dim)
        lora(f"{block}.ffn.0", dim, ffn_dim)
        lora(f"{block}.ffn.2", ffn_dim, dim)
        diff(f"{block}.norm3", dim)
        diff(f"{block}.norm3", dim, suffix="diff_b")
        state[f"diffusion_model.{block}.diff_m"] = torch.randn(1, 6, dim, generator=gen) * 0.01
    lora("text_embedding.0", text_dim, dim)
    lora("text_embedding.2", dim, dim)
    lora("time_embedding.0", freq_dim, dim)
    lora("time_embedding.2", dim, dim)
    lora("time_projection.1", dim, 6 * dim)
    diff("head.head", out_channels * 4, dim)
    diff("head.head", out_channels * 4, suffix="diff_b")
    state["diffusion_model.head.diff_m"] = torch.randn(1, 2, dim, generator=gen) * 0.01
    diff("patch_embedding", dim, in_channels, 1, 2, 2)
    diff("patch_embedding", dim, suffix="diff_b")
    if image_attention:
        lora("img_emb.proj.1", 1280, 1280)
        lora("img_emb.proj.3", 1280, dim)
        diff("img_emb.proj.0", 1280)
        diff("img_emb.proj.0", 1280, suffix="diff_b")
    return {k: v.contiguous() for k, v in state.items()}


# CLIP ViT-B/32's family (a ViT with 32-px patches at 224 px, QuickGELU, CLIP's mean and std) at a
# tiny width, so the tiny engine picks keyframes on the same CLIP code path as the real models.
TINY_CLIP_CONFIG = {
    "model_cfg": {
        "embed_dim": 32,
        "quick_gelu": True,
        "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "head_width": 32, "patch_size": 32},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    },
    "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]},
}


def _build_clip(folder: Path) -> None:
    import json
    import logging

    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CLIP_CONFIG).write_text(json.dumps(TINY_CLIP_CONFIG, indent=2) + "\n")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # open_clip warns that the folder has no weights yet: it is being made
    try:
        model = open_clip.create_model(f"local-dir:{folder}", load_weights=False, force_quick_gelu=True)
    finally:
        root.setLevel(level)
    # A random ViT maps every image to nearly the same embedding (cosines 0.98-0.99 between unrelated
    # frames: one keyframe per shot, the rest dropped as repeats). With no class/position embedding and
    # zero-mean patch filters the embedding follows the image content instead: unrelated frames score
    # 0.4-0.8 and a noisy copy 0.997, so the tiny engine's memory fills as a real one does.
    visual = model.visual
    with torch.no_grad():
        visual.class_embedding.zero_()
        visual.positional_embedding.zero_()
        weight = visual.conv1.weight
        weight -= weight.mean(dim=(1, 2, 3), keepdim=True)
        weight *= 4.0
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, folder / CLIP_WEIGHTS[0])


def _build(target: Path) -> None:
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanImageToVideoPipeline, WanPipeline
    from transformers import UMT5Config, UMT5EncoderModel

    from storymem_engine.models import quiet_libraries

    quiet_libraries()  # no "Writing model shards" bars on the editor's or the selftest's stderr

    torch.manual_seed(0)
    tokenizer = _tokenizer()
    text_encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=len(tokenizer), d_model=TEXT_DIM, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, dropout_rate=0.0,
    )).eval()
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True]).eval()
    # A random decoder outputs smooth low-contrast blobs that the model-free quality gate rightly
    # rejects, so the tiny engine would never fill its memory bank. Scaling the output layer gives
    # random frames with edges and contrast, and the whole memory path runs as it does for real.
    with torch.no_grad():
        vae.decoder.conv_out.weight.mul_(8.0)
        vae.decoder.conv_out.bias.mul_(8.0)
    layout = ModelLayout(target)
    _build_clip(layout.clip)
    for folder, in_ch, shift, boundary, cls in (
        (layout.t2v, 16, 12.0, 0.875, WanPipeline),
        (layout.i2v, 36, 4.0, 0.9, WanImageToVideoPipeline),
    ):
        scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                            num_train_timesteps=1000, flow_shift=shift)
        extra = {"image_encoder": None, "image_processor": None} if cls is WanImageToVideoPipeline else {}
        pipe = cls(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler,
                   transformer=_transformer(in_ch), transformer_2=_transformer(in_ch),
                   boundary_ratio=boundary, **extra)
        pipe.save_pretrained(folder, safe_serialization=True)
    for i, variant in enumerate(LORA_FOLDERS):
        lora_dir = target / "StoryMem" / LORA_FOLDERS[variant]
        lora_dir.mkdir(parents=True, exist_ok=True)
        for j, name in enumerate(("backbone_high_noise", "backbone_low_noise")):
            state = _storymem_lora_state(2, 24, 32, TEXT_DIM, seed=100 + 10 * i + j)
            torch.save(state, lora_dir / f"{name}.pth")
    from safetensors.torch import save_file

    layout.distill.mkdir(parents=True, exist_ok=True)
    for kind, in_ch in (("t2v", 16), ("m2v", 36)):
        for j, name in enumerate(DISTILL_FILES[kind]):
            save_file(distill_lora_state(in_ch, seed=200 + 10 * in_ch + j), layout.distill / name)


class TinyFolderError(RuntimeError):
    """The folder given for the tiny models holds something else (a user's real models): never replaced."""


def not_tiny_folder(folder: Path) -> str:
    """Why the tiny models cannot be built in ``folder`` ("" when they can: a new or empty folder, or tiny models
    already): a folder holding anything else is someone's (``--models`` pointed at the real Wan download)."""
    folder = Path(folder)
    if (folder / ".complete").is_file() or not os.path.lexists(folder):
        return ""
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if next(folder.iterdir(), None) is None:
        return ""
    return (f"{folder} holds other files, not the tiny engine's models: the tiny engine builds its own random-weight "
            "models and never writes into a folder that holds anything (leave --models out with --engine tiny, or "
            "give a new folder)")


def ensure_tiny_models(folder: Path | None = None) -> Path:
    """Build the tiny model folder once (a few seconds) and return it. A folder holding anything but tiny models
    raises TinyFolderError: building used to replace it whole, and ``--models`` may name a 120 GB download."""
    from filelock import FileLock

    folder = Path(folder) if folder else default_tiny_dir()
    if (folder / ".complete").is_file():
        return folder
    why = not_tiny_folder(folder)
    if why:
        raise TinyFolderError(why)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time (the ranks of a multi-GPU engine, two app windows): a second one waits, then finds the
    # folder complete, instead of replacing it under a process that is already loading from it.
    with FileLock(str(folder.parent / f".{folder.name}.lock")):
        if (folder / ".complete").is_file():
            return folder
        why = not_tiny_folder(folder)
        if why:
            raise TinyFolderError(why)
        tmp = Path(tempfile.mkdtemp(prefix=".tiny-", dir=folder.parent))
        try:
            _build(tmp)
            (tmp / ".complete").write_text(TINY_VERSION + "\n")
            os.chmod(tmp, 0o755)  # mkdtemp's 0700 made a folder the user named readable by nobody else
            if folder.exists():
                folder.rmdir()  # empty (checked above under the lock): os.replace needs it gone
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder
