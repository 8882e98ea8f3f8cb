"""What each offload preset keeps in RAM and in VRAM, and whether this machine has it.

Weight sizes come from the real Wan2.2 A14B, UMT5-XXL and Wan VAE configs instantiated on the meta device
(``measure_sizes``; a test checks the constants below against it, so they cannot drift from the configs).
Activation and VAE working memory are GPU measurements (``bench/gpu_m2v.py`` on an H200, see RESULTS.md).
Nothing here imports torch unless ``measure_sizes`` is called, so the editor's Settings can show the figures.

Where things live, per preset (E = one expert, L = its StoryMem LoRA, T = text encoder, V = VAE weights,
A = one transformer pass's activations, W = the VAE's working memory while decoding a shot):

    preset          RAM (host)                        VRAM (GPU peak)
    full_gpu        2E + 2L + T + V  while loading    2E + 2L + T + V + max(A, W)
    model_offload   2E + 2L + T + V                   max(E + L + A, T, V + W)
    fp8_offload     2 E8 + 2L + T + V                 max(E8 + L + A + block, T, V + W)
    group_offload   2E + 2L + T + V                   2 leaves + max(A, W) + V
    sequential      2E + 2L + T + V                   largest leaf + max(A, W) + V

E8 is an expert with fp8 storage. While the second expert of a pair loads it is briefly in bf16 beside the
first one in fp8 (the engine loads, adapts and casts one expert at a time), so under fp8_offload the engine
loads the experts before the text encoder and drops the encoder while it switches pairs: the loading peak,
E8 + E + 2L + V, stays below the steady state. With the text encoder kept on the CPU, T leaves the VRAM
column. Every RAM figure adds the process itself (Python, torch, the CUDA context).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

GIB = 2**30

# Wan2.2 A14B expert (diffusers WanTransformer3DModel config of Wan-AI/Wan2.2-I2V-A14B-Diffusers).
A14B_TRANSFORMER = dict(patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=36,
                        out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40,
                        cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
# UMT5-XXL encoder (google/umt5-xxl, as shipped in the Wan2.2 Diffusers repos).
UMT5_XXL = dict(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", dropout_rate=0.0)
STORYMEM_LORA_RANK = 128
# The method's shot: 832x480, 81 frames, 10 memory frames -> (10 + 21) latent frames x 30 x 52 tokens.
METHOD_TOKENS = (10 + 21) * 30 * 52
LORA_TARGETS = r"attn[12]\.(to_q|to_k|to_v|to_out\.0)$|ffn\.net\."  # diffusers names of StoryMem's targets


@dataclass(frozen=True)
class ModelSizes:
    """Bytes of each part as the engine holds it (bf16 weights, fp32 where diffusers keeps fp32)."""

    expert: int
    expert_fp8: int  # with fp8 storage of every layer diffusers' layerwise casting converts
    lora: int  # one expert's rank-128 StoryMem LoRA, in the expert's dtype (bf16)
    text_encoder: int
    vae: int  # fp32
    block: int  # one transformer block (what fp8 upcasts at a time, at most)
    leaf: int  # the largest single layer (what sequential / leaf-level group offload hold at once)


# measure_sizes() of the configs above (tests/test_accounting.py recomputes it on the meta device).
A14B_SIZES = ModelSizes(expert=28_636_170_368, expert_fp8=14_582_528_064, lora=1_226_833_920,
                        text_encoder=13_375_086_592, vae=507_570_124, block=702_870_528, leaf=314_634_240)

# Measured on one H200 (bench/gpu_reference_check.py, PyTorch SDPA, bf16): one expert's pass over 48,360
# tokens peaks 5.2 GiB above its weights (3.5 GiB at 32,760): 0.11 GiB per 1,000 tokens, rounded up.
ACTIVATION_GIB_PER_1K_TOKENS = 0.11
# The Wan VAE (fp32) decoding 21 latent frames of 832x480 whole peaks 9.3 GiB with its 0.5 GiB of weights
# (encoding the 81-frame condition clip: 7.3 GiB), same machine.
VAE_WORK_GIB = 8.8
# The engine process itself: 2.3 GiB peak RSS measured for a full_gpu shot (torch, diffusers, CUDA context),
# plus the CLIP ViT-B/32 that picks keyframes on the CPU (0.6 GiB).
PROCESS_RAM_GIB = 3.0
# CUDA's caching allocator reserves more than it hands out: 82.1 GiB reserved for 79.4 allocated (full_gpu).
ALLOCATOR_OVERHEAD = 1.04
# What the operating system and desktop keep: a preset must fit in the rest of the RAM.
RAM_RESERVE_FRACTION = 0.08


@dataclass(frozen=True)
class Needs:
    ram_gib: float
    vram_gib: float


def preset_needs(preset: str, sizes: ModelSizes = A14B_SIZES, tokens: int = METHOD_TOKENS,
                 text_encoder_on_cpu: bool = False, shards: int = 1) -> Needs:
    """RAM and VRAM a preset needs for a shot of ``tokens`` tokens (the method's shot by default), per process.

    ``shards``: the experts' weights sharded across that many GPUs (full_gpu only, distributed.shard_weights): each
    GPU holds 1/N of them plus two whole blocks (the one running and the next, gathered ahead). RAM is unchanged: a
    rank loads each expert whole on the CPU before sharding it.
    """
    e, e8, lo, t, v = sizes.expert, sizes.expert_fp8, sizes.lora, sizes.text_encoder, sizes.vae
    act = ACTIVATION_GIB_PER_1K_TOKENS * tokens / 1000 * GIB
    work = VAE_WORK_GIB * GIB
    gpu_t = 0 if text_encoder_on_cpu else t
    everything = 2 * e + 2 * lo + t + v
    if shards > 1 and preset != "full_gpu":
        raise ValueError(f"sharded weights stay on the GPUs (full_gpu), not {preset!r}")
    if preset == "full_gpu" and shards > 1:
        ram, vram = everything, (2 * e + 2 * lo) / shards + 2 * sizes.block + gpu_t + v + max(act, work)
    elif preset == "full_gpu":
        ram, vram = everything, 2 * e + 2 * lo + gpu_t + v + max(act, work)
    elif preset == "model_offload":
        ram, vram = everything, max(e + lo + act, gpu_t, v + work)
    elif preset == "fp8_offload":
        ram = max(2 * e8 + 2 * lo + t + v, e8 + e + 2 * lo + v)
        vram = max(e8 + lo + act + sizes.block, gpu_t, v + work)
    elif preset == "group_offload":
        ram, vram = everything, 2 * sizes.leaf + max(act, work) + v
    elif preset == "sequential":
        ram, vram = everything, sizes.leaf + max(act, work) + v
    else:
        raise ValueError(f"unknown offload preset {preset!r}")
    return Needs(round(ram / GIB + PROCESS_RAM_GIB, 1), round(vram * ALLOCATOR_OVERHEAD / GIB, 1))


@dataclass(frozen=True)
class Machine:
    ram_gib: float
    vram_gib: float | None  # None: no CUDA GPU found
    gpu_name: str = ""

    @property
    def usable_ram_gib(self) -> float:
        return self.ram_gib * (1 - RAM_RESERVE_FRACTION)

    def describe(self) -> str:
        gpu = f"{self.gpu_name or 'GPU'} with {self.vram_gib:.1f} GiB" if self.vram_gib is not None else "no CUDA GPU"
        return f"{self.ram_gib:.1f} GiB of RAM, {gpu}"


def host_ram_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB


def gpu_memory() -> tuple[float | None, str]:
    """(total VRAM in GiB, name) of GPU 0 without importing torch (nvidia-smi), or (None, "")."""
    try:
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            _free, total = torch.cuda.mem_get_info()
            return total / GIB, torch.cuda.get_device_name()
    except Exception:  # noqa: BLE001 - a broken driver reads as "no GPU", which the message then says
        pass
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None, ""
    try:
        out = subprocess.run([smi, "--query-gpu=memory.total,name", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=5, check=True).stdout.splitlines()
        mib, name = out[0].split(",", 1)
        return float(mib) / 1024, name.strip()
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None, ""


def this_machine() -> Machine:
    vram, name = gpu_memory()
    return Machine(round(host_ram_gib(), 1), None if vram is None else round(vram, 1), name)


def fits(needs: Needs, machine: Machine) -> bool:
    vram_ok = machine.vram_gib is not None and needs.vram_gib <= machine.vram_gib
    return needs.ram_gib <= machine.usable_ram_gib and vram_ok


def fitting_preset(machine: Machine, text_encoder_on_cpu: bool = False,
                   order: tuple[str, ...] | None = None) -> str | None:
    """The fastest preset this machine holds, or None."""
    from storymem_engine.models import OFFLOAD_PRESETS

    for preset in order or OFFLOAD_PRESETS:
        if fits(preset_needs(preset, text_encoder_on_cpu=text_encoder_on_cpu), machine):
            return preset
    return None


def gpu_free_memory() -> float | None:
    """Free VRAM of GPU 0 in GiB right now (torch when it has CUDA up, else nvidia-smi), or None with no GPU."""
    try:
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            free, _total = torch.cuda.mem_get_info()
            return free / GIB
    except Exception:  # noqa: BLE001 - a broken driver reads as "no GPU"
        pass
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=5, check=True).stdout.splitlines()
        return float(out[0]) / 1024
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def choose_preset(free_vram_gib: float | None, ram_gib: float, text_encoder_on_cpu: bool = False,
                  tokens: int = METHOD_TOKENS) -> tuple[str, str]:
    """(preset, reason in words): the fastest preset whose accounted RAM and VRAM fit, for the "auto" setting.

    ``free_vram_gib``: what the GPU has free now (None: no CUDA GPU); ``ram_gib``: the machine's RAM (the usual
    reserve for the system is kept out). When nothing fits, the lowest-VRAM preset whose RAM fits (or simply the
    lowest one) is returned and the reason says so: the pre-flight check then refuses it with both numbers.
    """
    from storymem_engine.models import OFFLOAD_PRESETS

    machine = Machine(ram_gib, free_vram_gib)
    have = (f"{free_vram_gib:.1f} GiB of VRAM free" if free_vram_gib is not None else "no CUDA GPU") + \
        f", {ram_gib:.1f} GiB of RAM ({machine.usable_ram_gib:.1f} usable)"
    skipped = []
    for preset in OFFLOAD_PRESETS:
        needs = preset_needs(preset, tokens=tokens, text_encoder_on_cpu=text_encoder_on_cpu)
        if fits(needs, machine):
            why = f"'{preset}' is the fastest preset that fits: it needs {needs.vram_gib:.1f} GiB of VRAM and " \
                  f"{needs.ram_gib:.1f} GiB of RAM; this machine has {have}"
            if skipped:
                why += f" (faster, but too big: {'; '.join(skipped)})"
            return preset, why + "."
        skipped.append(f"{preset} needs {needs.vram_gib:.1f} GiB VRAM / {needs.ram_gib:.1f} GiB RAM")
    ram_fits = [p for p in OFFLOAD_PRESETS
                if preset_needs(p, tokens=tokens, text_encoder_on_cpu=text_encoder_on_cpu).ram_gib
                <= machine.usable_ram_gib]
    preset = ram_fits[-1] if ram_fits else OFFLOAD_PRESETS[-1]
    least = "the least VRAM of those whose RAM fits" if ram_fits else "the least VRAM"
    return preset, (f"No preset fits this machine ({have}): {'; '.join(skipped)}. auto picks '{preset}' "
                    f"({least}), which the check before loading then refuses.")


class InsufficientMemory(RuntimeError):
    """The chosen preset needs more RAM or VRAM than this machine has (raised before anything loads)."""


def preflight(preset: str, machine: Machine, text_encoder_on_cpu: bool = False, shards: int = 1) -> Needs:
    """Refuse, with both numbers and a preset that fits, rather than be killed while loading."""
    needs = preset_needs(preset, text_encoder_on_cpu=text_encoder_on_cpu, shards=shards)
    if fits(needs, machine):
        return needs
    short = []
    if needs.ram_gib > machine.usable_ram_gib:
        short.append(f"{needs.ram_gib:.1f} GiB of RAM (this machine has {machine.ram_gib:.1f} GiB, "
                     f"{machine.usable_ram_gib:.1f} usable)")
    if machine.vram_gib is None:
        short.append("a CUDA GPU (none was found)")
    elif needs.vram_gib > machine.vram_gib:
        short.append(f"{needs.vram_gib:.1f} GiB of VRAM (this GPU has {machine.vram_gib:.1f} GiB)")
    better = fitting_preset(machine, text_encoder_on_cpu)
    if better is not None:
        other = preset_needs(better, text_encoder_on_cpu=text_encoder_on_cpu)
        advice = (f"The '{better}' preset fits ({other.ram_gib:.1f} GiB RAM, {other.vram_gib:.1f} GiB VRAM): "
                  "choose it in Generate > Render settings > Offload preset, or with --offload.")
    else:
        advice = "No preset fits this machine; the tiny engine still checks the install."
    what = f"The '{preset}' offload preset" + (f" with the experts sharded across {shards} GPUs" if shards > 1 else "")
    raise InsufficientMemory(f"{what} needs " + " and ".join(short) + ". " + advice)


def measure_sizes(transformer_config: dict | None = None, text_encoder_config: dict | None = None,
                  lora_rank: int = STORYMEM_LORA_RANK) -> ModelSizes:
    """Build the configs on the meta device and count bytes the way the engine stores them."""
    import re

    import torch
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from diffusers.hooks._common import _GO_LC_SUPPORTED_PYTORCH_LAYERS
    from transformers import UMT5Config, UMT5EncoderModel

    with torch.device("meta"):
        expert = WanTransformer3DModel(**(transformer_config or A14B_TRANSFORMER))
        text_encoder = UMT5EncoderModel(UMT5Config(**(text_encoder_config or UMT5_XXL)))
        vae = AutoencoderKLWan()
    keep_fp32 = set(expert._keep_in_fp32_modules or [])
    skip = tuple(expert._skip_layerwise_casting_patterns or ())

    def width(name: str) -> int:
        return 4 if keep_fp32 & set(name.split(".")) else 2

    expert_bytes = sum(p.numel() * width(n) for n, p in expert.named_parameters())
    fp8 = 0
    for name, module in expert.named_modules():
        if isinstance(module, _GO_LC_SUPPORTED_PYTORCH_LAYERS) and not any(re.search(s, name) for s in skip):
            fp8 += sum(p.numel() * (width(f"{name}.{n}") - 1) for n, p in module.named_parameters())
    # StoryMem's targets: self_attn/cross_attn q, k, v, o and ffn.0, ffn.2 of every block (10 linears).
    lora = sum(lora_rank * (m.in_features + m.out_features) for n, m in expert.blocks.named_modules()
               if isinstance(m, torch.nn.Linear) and re.search(LORA_TARGETS, n)) * 2
    leaf = max(sum(p.numel() * width(f"{n}.{k}") for k, p in m.named_parameters(recurse=False))
               for n, m in expert.named_modules())
    block = max(sum(p.numel() * width(f"blocks.{i}.{n}") for n, p in b.named_parameters())
                for i, b in enumerate(expert.blocks))
    # transformers keeps UMT5's feed-forward output layers ("wo") in fp32 when it loads the rest in bf16.
    te_fp32 = set(text_encoder._keep_in_fp32_modules or [])
    te_bytes = sum(p.numel() * (4 if te_fp32 & set(n.split(".")) else 2) for n, p in text_encoder.named_parameters())
    return ModelSizes(expert=expert_bytes, expert_fp8=expert_bytes - fp8, lora=lora, text_encoder=te_bytes,
                      vae=sum(p.numel() for p in vae.parameters()) * 4, block=block, leaf=leaf)
