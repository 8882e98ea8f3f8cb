"""Load the StoryMem memory LoRA into diffusers' WanTransformer3DModel.

StoryMem trained its LoRA with peft on the original Wan module names (`blocks.N.self_attn.q`, ...), with
r = lora_alpha = 128 and use_rslora=True, so the effective scale is alpha / sqrt(r) = 11.31 rather than
peft's default alpha / r = 1.0. Loading it with the wrong scale, or silently skipping keys that do not
match (which is what diffusers does for an unrecognised state dict), produces plausible-looking but wrong
videos; this module therefore checks that every key lands on a module and carries its weights.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storymem_engine.models import LORA_EXTENSIONS  # one list for the models check and the loader

if TYPE_CHECKING:
    import torch

DEFAULT_ADAPTER = "storymem"
HIGH_NOISE_NAME = "backbone_high_noise"
LOW_NOISE_NAME = "backbone_low_noise"

_PEFT_PREFIX = "base_model.model."
_WAN_PREFIX = "diffusion_model."
_DIFFUSERS_PREFIX = "transformer."
# peft checkpoints drop the adapter name, but a state dict taken straight from a live model keeps it.
_KEY_RE = re.compile(r"^(?P<module>.+?)\.(?:(?P<part>lora_A|lora_B)(?:\.default)?\.weight|(?P<alpha>alpha))$")


class LoraError(ValueError):
    """A LoRA file could not be read or does not fit the transformer; the message names the key or file."""


@dataclass
class _ModuleLora:
    """One adapted Linear as found in the file, keyed by its original Wan module name."""

    wan_name: str
    key_a: str | None = None
    key_b: str | None = None
    weight_a: torch.Tensor | None = None
    weight_b: torch.Tensor | None = None
    alpha: float | None = None
    diffusers_name: str = ""

    @property
    def rank(self) -> int:
        assert self.weight_a is not None
        return int(self.weight_a.shape[0])

    @property
    def effective_alpha(self) -> float:
        """The file's alpha, else alpha = r (StoryMem's setting)."""
        return self.alpha if self.alpha is not None else float(self.rank)

    def scale(self, strength: float, use_rslora: bool) -> float:
        """What peft multiplies B @ A by: alpha / sqrt(r) with rsLoRA, else alpha / r, times the strength."""
        return strength * self.effective_alpha / (math.sqrt(self.rank) if use_rslora else self.rank)

    def add(self, key: str, value: torch.Tensor, part: str) -> None:
        """Take one key of the file: ``part`` is "alpha", "a" (lora_A / lora_down) or "b" (lora_B / lora_up)."""
        if part == "alpha":
            if value.numel() != 1:
                raise LoraError(f"LoRA key {key!r} should be a single alpha value, got shape {tuple(value.shape)}")
            self.alpha = float(value.item())
        elif part == "a":
            if self.key_a is not None:
                raise LoraError(f"LoRA key {key!r} duplicates {self.key_a!r}")
            self.key_a, self.weight_a = key, value
        else:
            if self.key_b is not None:
                raise LoraError(f"LoRA key {key!r} duplicates {self.key_b!r}")
            self.key_b, self.weight_b = key, value


def _read_lora_file(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    if not path.is_file():
        raise LoraError(f"LoRA file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".pth":
            import torch

            # weights_only: a .pth is a pickle, and a downloaded pickle must not be able to run code.
            data = torch.load(path, weights_only=True, map_location="cpu")
            metadata: dict[str, str] = {}
        elif suffix == ".safetensors":
            from safetensors import safe_open
            from safetensors.torch import load_file

            data = load_file(str(path), device="cpu")
            with safe_open(str(path), framework="pt") as handle:
                metadata = dict(handle.metadata() or {})
        else:
            raise LoraError(
                f"unsupported LoRA file type {suffix!r} for {path}; expected .pth or .safetensors"
            )
    except LoraError:
        raise
    except Exception as exc:
        # An empty or cut-off .pth raises EOFError with no words of its own.
        raise LoraError(f"cannot read LoRA file {path}: {exc or type(exc).__name__ + ' (empty or cut off)'}") from exc
    if not isinstance(data, Mapping):
        raise LoraError(f"LoRA file {path} does not hold a state dict (got {type(data).__name__})")
    import torch

    broken = [k for k, v in data.items() if isinstance(v, torch.Tensor) and v.is_floating_point()
              and not bool(torch.isfinite(v).all())]
    if broken:
        raise LoraError(f"LoRA file {path} holds NaN or infinite weights ({len(broken)} tensors, e.g. {broken[0]}); "
                        "download it again")
    return dict(data), metadata


def _metadata_alpha_and_rslora(metadata: Mapping[str, str]) -> tuple[float | None, bool | None]:
    """Read lora_alpha / use_rslora from diffusers' `lora_adapter_metadata` JSON or flat header keys."""
    flat: dict[str, Any] = dict(metadata)
    raw = metadata.get("lora_adapter_metadata")
    if raw:
        try:
            flat.update(json.loads(raw))
        except (TypeError, ValueError) as exc:
            raise LoraError(f"LoRA metadata 'lora_adapter_metadata' is not valid JSON: {exc}") from exc
    flat = {k.removeprefix(_DIFFUSERS_PREFIX): v for k, v in flat.items()}
    alpha = flat.get("lora_alpha", flat.get("alpha"))
    rslora = flat.get("use_rslora")
    try:
        alpha_value = float(alpha) if alpha is not None else None
    except (TypeError, ValueError):
        raise LoraError(f"LoRA metadata 'lora_alpha' must be a number, got {alpha!r}"[:200]) from None
    if alpha_value is not None and not (math.isfinite(alpha_value) and alpha_value > 0):
        raise LoraError(f"LoRA metadata 'lora_alpha' must be a positive number, got {alpha!r}"[:200])
    rslora_value = None if rslora is None else str(rslora).strip().lower() in ("1", "true", "yes")
    return alpha_value, rslora_value


def _group_by_module(state_dict: Mapping[str, Any]) -> dict[str, _ModuleLora]:
    import torch

    modules: dict[str, _ModuleLora] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise LoraError(f"LoRA entry {key!r} is not a named tensor")
        name = key
        for prefix in (_PEFT_PREFIX, _WAN_PREFIX):
            name = name.removeprefix(prefix)
        match = _KEY_RE.match(name)
        if match is None:
            raise LoraError(
                f"LoRA key {key!r} is not a lora_A/lora_B weight or alpha; StoryMem LoRAs hold nothing else"
            )
        entry = modules.setdefault(match["module"], _ModuleLora(match["module"]))
        entry.add(key, value, "alpha" if match["alpha"] else "a" if match["part"] == "lora_A" else "b")
    if not modules:
        raise LoraError("the LoRA state dict is empty")
    for entry in modules.values():
        if entry.weight_a is None or entry.weight_b is None:
            present = entry.key_a or entry.key_b or f"{entry.wan_name}.alpha"
            missing = "lora_B" if entry.weight_a is not None else "lora_A"
            raise LoraError(f"LoRA key {present!r} has no matching {missing} weight")
        if entry.weight_a.ndim != 2 or entry.weight_b.ndim != 2:
            raise LoraError(
                f"LoRA key {entry.key_a!r} / {entry.key_b!r}: only Linear (2-D) LoRA weights are supported"
            )
        if entry.weight_a.shape[0] != entry.weight_b.shape[1]:
            raise LoraError(
                f"LoRA key {entry.key_a!r} has rank {entry.weight_a.shape[0]} but {entry.key_b!r} has rank "
                f"{entry.weight_b.shape[1]}"
            )
    return modules


def _to_diffusers_name(entry: _ModuleLora) -> str:
    """Map one Wan module name to diffusers' name with diffusers' own Wan LoRA converter.

    The converter is called per module rather than once on the whole dict for two reasons found in its
    source: its output cannot be traced back to the input key that produced it (needed to name the
    offending key in errors), and with `alpha` entries present it bakes alpha / r into the weights, which
    would be wrong for rsLoRA (alpha / sqrt(r)); alpha is therefore kept out of it and handled by peft.
    It walks blocks min..max and only maps names it knows, so an unknown name raises ValueError there; a
    known name on a block the model lacks (blocks.7 in a 2-layer model) maps fine and is caught by the
    existence check afterwards.
    """
    from diffusers.loaders.lora_conversion_utils import _convert_non_diffusers_wan_lora_to_diffusers

    if not entry.wan_name.startswith("blocks."):
        # The converter needs at least one `blocks.` key to run; StoryMem only adapts transformer blocks.
        raise LoraError(
            f"LoRA key {entry.key_a!r} is outside the transformer blocks; StoryMem adapts blocks only"
        )
    probe = {
        f"{_WAN_PREFIX}{entry.wan_name}.lora_A.weight": entry.weight_a,
        f"{_WAN_PREFIX}{entry.wan_name}.lora_B.weight": entry.weight_b,
    }
    try:
        converted = _convert_non_diffusers_wan_lora_to_diffusers(probe)
    except (ValueError, KeyError) as exc:
        raise LoraError(f"LoRA key {entry.key_a!r} names no module diffusers' Wan converter knows") from exc
    names = {k.removeprefix(_DIFFUSERS_PREFIX).rsplit(".lora_", 1)[0] for k in converted}
    if len(converted) != 2 or len(names) != 1:
        raise LoraError(
            f"LoRA key {entry.key_a!r} was dropped or split by diffusers' Wan converter: {sorted(converted)}"
        )
    return names.pop()


def _check_target(transformer: torch.nn.Module, entry: _ModuleLora) -> None:
    import torch

    try:
        module = transformer.get_submodule(entry.diffusers_name)
    except AttributeError:
        raise LoraError(
            f"LoRA key {entry.key_a!r} maps to {entry.diffusers_name!r}, "
            "which does not exist in the transformer"
        ) from None
    base = getattr(module, "base_layer", module)  # already wrapped by another adapter
    if not isinstance(base, torch.nn.Linear):
        raise LoraError(
            f"LoRA key {entry.key_a!r} maps to {entry.diffusers_name!r}, "
            f"a {type(base).__name__}, not a Linear"
        )
    assert entry.weight_a is not None and entry.weight_b is not None
    if entry.weight_a.shape[1] != base.in_features or entry.weight_b.shape[0] != base.out_features:
        raise LoraError(
            f"LoRA key {entry.key_a!r} has shape A {tuple(entry.weight_a.shape)} / "
            f"B {tuple(entry.weight_b.shape)}, "
            f"but {entry.diffusers_name!r} is Linear({base.in_features} -> {base.out_features})"
        )


def _lora_layers(transformer: torch.nn.Module, adapter_name: str) -> dict[str, Any]:
    from peft.tuners.lora import LoraLayer

    return {
        name: module
        for name, module in transformer.named_modules()
        if isinstance(module, LoraLayer) and adapter_name in module.lora_A
    }


def _verify_loaded(
    transformer: torch.nn.Module,
    entries: list[_ModuleLora],
    adapter_name: str,
    use_rslora: bool,
    strength: float,
) -> None:
    import torch

    layers = _lora_layers(transformer, adapter_name)
    expected = {e.diffusers_name: e for e in entries}
    extra = sorted(set(layers) - set(expected))
    if extra:
        raise LoraError(f"adapter {adapter_name!r} wrapped modules that are not in the file: {extra}")
    for name, entry in expected.items():
        layer = layers.get(name)
        if layer is None:
            raise LoraError(f"LoRA key {entry.key_a!r} -> {name!r}: no LoRA layer was created")
        weight_a = layer.lora_A[adapter_name].weight
        weight_b = layer.lora_B[adapter_name].weight
        for key, loaded, source in (
            (entry.key_a, weight_a, entry.weight_a),
            (entry.key_b, weight_b, entry.weight_b),
        ):
            assert source is not None
            if loaded.shape != source.shape or not torch.equal(
                loaded.detach(), source.to(device=loaded.device, dtype=loaded.dtype)
            ):
                raise LoraError(f"LoRA key {key!r} -> {name!r}: the weights did not load")
        scale = entry.scale(strength, use_rslora)
        if not math.isclose(layer.scaling[adapter_name], scale, rel_tol=1e-6):
            raise LoraError(f"{name!r}: LoRA scale {layer.scaling[adapter_name]} instead of {scale}")
    if len(layers) != len(entries):
        raise LoraError(f"{len(layers)} modules got LoRA, but the file has {len(entries)}")


def _activate(transformer: torch.nn.Module, adapter_names: list[str]) -> None:
    from peft.tuners.tuners_utils import BaseTunerLayer

    for module in transformer.modules():
        if isinstance(module, BaseTunerLayer):
            module.set_adapter(adapter_names, inference_mode=True)


def _remove_adapter(transformer: Any, adapter_name: str) -> None:
    """Undo a half-finished load so a failed LoRA never stays active in the model."""
    if adapter_name not in (getattr(transformer, "peft_config", None) or {}):
        return
    try:
        transformer.delete_adapters(adapter_name)
        if not getattr(transformer, "peft_config", None):
            # delete_adapters leaves empty peft wrappers behind; with no adapter left, restore plain Linears.
            transformer.unload_lora()
    except Exception:
        pass  # the load error being raised matters more than a failed cleanup


# The most a LoRA may change one weight of the transformer. The experts' weights are O(0.01-1) and a trained LoRA
# moves them by far less (StoryMem's: scale 11.31, rank 128); a file that could move one by more than this is
# damaged (an alpha of 1e30 loaded, and every frame came out NaN). Checked with a bound computed in O(weights).
MAX_WEIGHT_CHANGE = 1e4


def _check_change(entry: _ModuleLora, scale: float) -> None:
    """Refuse a LoRA pair whose update B @ A * scale could exceed MAX_WEIGHT_CHANGE in some weight: each element is
    at most (the largest row sum of |B|) x (the largest |A|) x |scale|."""
    assert entry.weight_a is not None and entry.weight_b is not None
    if entry.alpha is not None and not (math.isfinite(entry.alpha) and entry.alpha > 0):
        raise LoraError(f"LoRA key {entry.wan_name}.alpha must be a positive number, got {entry.alpha!r}")
    bound = (float(entry.weight_b.float().abs().sum(dim=1).max()) * float(entry.weight_a.float().abs().max())
             * abs(scale)) if entry.weight_a.numel() and entry.weight_b.numel() else 0.0
    if not bound <= MAX_WEIGHT_CHANGE:
        alpha = "alpha = rank" if entry.alpha is None else f"alpha {entry.alpha:g}"
        raise LoraError(f"LoRA module {entry.wan_name!r} could change a weight by up to {bound:.3g} ({alpha}, rank "
                        f"{entry.rank}); a trained LoRA stays far below {MAX_WEIGHT_CHANGE:g}: the file is damaged, "
                        "download it again")


def _load_adapter(transformer: Any, entries: list[_ModuleLora], adapter_name: str, use_rslora: bool,
                  strength: float, dtype: torch.dtype | None = None) -> None:
    """Load mapped, checked LoRA entries as one peft adapter, keep earlier adapters active, verify every key.

    ``dtype``: the adapter's weights end in this dtype (peft gives a new adapter its base layer's dtype, which is
    fp8 for an expert already stored in fp8: the LoRA would lose its precision and not run).
    """
    for entry in entries:
        _check_change(entry, entry.scale(strength, use_rslora))
    # One LoraConfig for all modules: the common rank / alpha, with per-module patterns for outliers.
    ranks = {e.diffusers_name: e.rank for e in entries}
    alphas = {e.diffusers_name: e.effective_alpha for e in entries}
    rank = Counter(ranks.values()).most_common(1)[0][0]
    alpha = Counter(alphas.values()).most_common(1)[0][0]
    # peft matches pattern keys as regexes against the module-name suffix; escape so '.' is literal.
    rank_pattern = {re.escape(n): r for n, r in ranks.items() if r != rank}
    alpha_pattern = {re.escape(n): a for n, a in alphas.items() if a != alpha}
    config = {
        "r": rank,
        "lora_alpha": alpha,
        "use_rslora": use_rslora,
        "target_modules": [e.diffusers_name for e in entries],
        "rank_pattern": rank_pattern,
        "alpha_pattern": alpha_pattern,
        "lora_dropout": 0.0,
        "bias": "none",
    }
    # diffusers strips its component prefix from both the weights and the metadata before building the
    # LoraConfig; unprefixed metadata would be filtered away and the config silently inferred (alpha = r,
    # no rsLoRA), which is exactly the 11.31x scale error this loader exists to prevent.
    metadata_for_diffusers = {f"{_DIFFUSERS_PREFIX}{k}": v for k, v in config.items()}
    weights: dict[str, Any] = {}
    for entry in entries:
        weights[f"{_DIFFUSERS_PREFIX}{entry.diffusers_name}.lora_A.weight"] = entry.weight_a
        weights[f"{_DIFFUSERS_PREFIX}{entry.diffusers_name}.lora_B.weight"] = entry.weight_b

    existing = getattr(transformer, "peft_config", None) or {}
    previously_active = list(transformer.active_adapters()) if existing else []
    try:
        with warnings.catch_warnings():
            # peft warns on every second adapter ("multiple adapters in the model"): two are what is wanted here.
            warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
            transformer.load_lora_adapter(
                weights, prefix="transformer", adapter_name=adapter_name, metadata=metadata_for_diffusers
            )
        # peft makes the new adapter the only active one, which would silently switch off a LoRA loaded
        # before (e.g. a step-distillation LoRA); keep those active alongside it. Frozen: inference.
        _activate(transformer, [*previously_active, adapter_name])
        layers = _lora_layers(transformer, adapter_name)
        if dtype is not None:
            import torch

            # Already rounded to the base layer's dtype when peft copied them in: cast back, then copy the file's
            # values again at full precision.
            with torch.no_grad():
                for entry in entries:
                    layer = layers.get(entry.diffusers_name)
                    if layer is None:
                        continue  # reported by _verify_loaded
                    for part, source in ((layer.lora_A, entry.weight_a), (layer.lora_B, entry.weight_b)):
                        part[adapter_name].to(dtype=dtype)
                        part[adapter_name].weight.copy_(source)
        if strength != 1.0:
            for layer in layers.values():
                layer.set_scale(adapter_name, strength)
        _verify_loaded(transformer, entries, adapter_name, use_rslora, strength)
    except Exception as exc:
        _remove_adapter(transformer, adapter_name)
        if previously_active:
            _activate(transformer, previously_active)
        if isinstance(exc, LoraError):
            raise
        raise LoraError(f"loading LoRA adapter {adapter_name!r} failed: {exc}") from exc


def load_storymem_lora(
    transformer: torch.nn.Module,
    state_dict_or_path: Mapping[str, Any] | str | os.PathLike[str],
    adapter_name: str = DEFAULT_ADAPTER,
    scale: float | None = None,
) -> list[str]:
    """Load a StoryMem (peft, original Wan names) LoRA into a diffusers WanTransformer3DModel.

    `state_dict_or_path`: a state dict, or a .pth / .safetensors file. Rank comes from the lora_A shapes;
    alpha from per-module `alpha` entries, else the file's metadata, else alpha = r (StoryMem's setting).
    The layers use rsLoRA scaling alpha / sqrt(r) unless the file's metadata says use_rslora is false.
    `scale` multiplies that trained scale (1.0 or None = as trained), like a LoRA strength slider.

    Returns the diffusers module names that got the adapter, sorted by block then name. Raises LoraError
    naming the key when any key maps to no module or any module does not end up with the file's weights.
    """
    if isinstance(state_dict_or_path, Mapping):
        state_dict, metadata = dict(state_dict_or_path), {}
    else:
        state_dict, metadata = _read_lora_file(Path(state_dict_or_path))

    meta_alpha, meta_rslora = _metadata_alpha_and_rslora(metadata)
    use_rslora = True if meta_rslora is None else meta_rslora
    entries = list(_group_by_module(state_dict).values())

    existing = getattr(transformer, "peft_config", None) or {}
    if adapter_name in existing:
        raise LoraError(f"the transformer already has an adapter named {adapter_name!r}")

    seen: dict[str, str] = {}
    for entry in entries:
        if entry.alpha is None:
            entry.alpha = meta_alpha
        entry.diffusers_name = _to_diffusers_name(entry)
        if entry.diffusers_name in seen:
            raise LoraError(
                f"LoRA keys {seen[entry.diffusers_name]!r} and {entry.key_a!r} "
                f"both map to {entry.diffusers_name!r}"
            )
        seen[entry.diffusers_name] = str(entry.key_a)
        _check_target(transformer, entry)

    _load_adapter(transformer, entries, adapter_name, use_rslora, 1.0 if scale is None else float(scale))
    return sorted((e.diffusers_name for e in entries), key=_module_sort_key)


def _module_sort_key(name: str) -> tuple[int, str]:
    # Block order, not string order (blocks.10 after blocks.9); safetensors files come back key-sorted, so
    # "file order" would not be stable across formats anyway.
    parts = name.split(".")
    block = int(parts[1]) if len(parts) > 1 and parts[0] == "blocks" and parts[1].isdigit() else -1
    return block, name


def find_lora_file(folder: str | os.PathLike[str], name: str) -> Path | None:
    """`name`.safetensors or `name`.pth in `folder`; safetensors wins because it cannot carry code."""
    for suffix in LORA_EXTENSIONS:
        candidate = Path(folder) / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class LoraPairResult:
    high_noise_file: Path
    low_noise_file: Path
    high_noise_modules: list[str]
    low_noise_modules: list[str]


def load_storymem_lora_pair(
    transformer: torch.nn.Module,
    transformer_2: torch.nn.Module,
    folder: str | os.PathLike[str],
    adapter_name: str = DEFAULT_ADAPTER,
    scale: float | None = None,
) -> LoraPairResult:
    """Load backbone_high_noise.* into `transformer` and backbone_low_noise.* into `transformer_2`.

    Wan2.2 A14B's pipeline runs `transformer` on the high-noise steps and `transformer_2` on the low-noise
    ones, and StoryMem ships one LoRA per expert. Both files must exist (either extension).
    """
    base = Path(folder)
    if not base.is_dir():
        raise LoraError(f"StoryMem LoRA folder not found: {base}")
    high = find_lora_file(base, HIGH_NOISE_NAME)
    low = find_lora_file(base, LOW_NOISE_NAME)
    missing = [
        f"{name}.safetensors or {name}.pth"
        for name, found in ((HIGH_NOISE_NAME, high), (LOW_NOISE_NAME, low))
        if found is None
    ]
    if missing:
        files = "file" if len(missing) == 1 else "files"
        raise LoraError(f"missing StoryMem LoRA {files} in {base}: {', '.join(missing)}")
    assert high is not None and low is not None
    high_modules = load_storymem_lora(transformer, high, adapter_name=adapter_name, scale=scale)
    try:
        low_modules = load_storymem_lora(transformer_2, low, adapter_name=adapter_name, scale=scale)
    except LoraError:
        # Half a pair would run the memory LoRA on only some steps: leave neither expert adapted.
        _remove_adapter(transformer, adapter_name)
        raise
    return LoraPairResult(high, low, high_modules, low_modules)


# ----------------------------------------------------------------------------------------------------------------
# The draft profile's step-distillation LoRA (lightx2v/Wan2.2-Distill-Loras), a second adapter next to StoryMem's.
#
# Those files use the original Wan names (`diffusion_model.` prefix) in kohya/ComfyUI style: `lora_down` /
# `lora_up` / `alpha` per Linear (Kijai's repacks say `lora_A` / `lora_B`), plus full deltas from the distilled
# model: `.diff` (a weight: norms, the output head, the patch embedding), `.diff_b` (a bias) and `.diff_m` (a
# block's modulation table). The I2V files also carry Wan2.1's image cross-attention (`k_img`, `v_img`,
# `norm_k_img`, `img_emb.*`), which Wan2.2 A14B does not have. diffusers 0.42.1's converter
# (`_convert_non_diffusers_wan_lora_to_diffusers`, used by `WanLoraLoaderMixin.lora_state_dict`) drops every
# norm `.diff` / `.diff_b` ("just zeroed values", an assumption a delta taken from a distilled model need not
# meet), logs and drops `.diff_m` and the patch embedding's `.diff` / `.diff_b`, raises on a LoRA `alpha` outside
# the blocks (text / time embeddings), and maps `k_img` / `v_img` onto projections the Wan2.2 transformer lacks
# (tests/test_draft_profile.py shows the first three on a synthetic file). So the names are mapped here
# (one Wan parameter name at a time, with diffusers' own checkpoint renames) and every key is accounted for:
#   - LoRA pairs -> peft adapter "distill" (scale alpha / r, the kohya convention diffusers and ComfyUI use);
#   - full deltas -> applied to the parameters themselves while the adapter is on, with the exact originals
#     kept (on the CPU) and copied back when it is off, so a final render sees bit-identical weights;
#   - image cross-attention keys -> skipped, and only when the transformer has no such module.
# Anything else raises LoraError naming the key.
# ----------------------------------------------------------------------------------------------------------------

DISTILL_ADAPTER = "distill"
_DISTILL_KEY_RE = re.compile(
    r"^(?P<module>.+?)\.(?:(?P<part>lora_down|lora_up|lora_A|lora_B)\.weight|(?P<alpha>alpha)|(?P<diff>diff(?:_b|_m)?))$"
)
_DIFF_TARGET = {"diff": "weight", "diff_b": "bias", "diff_m": "modulation"}
# Wan2.1's image cross-attention: in lightx2v's I2V files, absent from Wan2.2 A14B.
_IMAGE_ATTENTION_RE = re.compile(r"(^|\.)(k_img|v_img|norm_k_img)$|^img_emb\.")


@dataclass
class _Delta:
    key: str  # the file's key
    name: str  # diffusers parameter name
    delta: torch.Tensor
    original: torch.Tensor | None = None  # exact copy of the parameter without the delta (CPU)
    patched: torch.Tensor | None = None  # the parameter with the delta, in the parameter's dtype (CPU)


@dataclass
class DistillState:
    """What the distill adapter did to one expert, kept on it as ``_storymem_distill``."""

    path: Path | None
    lora_modules: list[str]
    deltas: list[_Delta]
    skipped: list[str]  # file keys for modules this transformer does not have (image cross-attention)
    strength: float
    active: bool = True

    @property
    def delta_names(self) -> list[str]:
        return [d.name for d in self.deltas]


def _wan_to_diffusers_param(wan_name: str) -> str:
    """A Wan parameter name (``blocks.0.norm3.weight``) as diffusers names it, with diffusers' checkpoint renames."""
    import torch
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    converted = convert_wan_transformer_to_diffusers({wan_name: torch.empty(0)})
    return next(iter(converted))


def _strip_wan_prefix(key: str) -> str:
    for prefix in ("model.diffusion_model.", _WAN_PREFIX):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _split_distill_state(state_dict: Mapping[str, Any]) -> tuple[dict[str, _ModuleLora], list[_Delta]]:
    import torch

    modules: dict[str, _ModuleLora] = {}
    deltas: list[_Delta] = []
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise LoraError(f"distill LoRA entry {key!r} is not a named tensor")
        name = _strip_wan_prefix(key)
        match = _DISTILL_KEY_RE.match(name)
        if match is None:
            raise LoraError(f"distill LoRA key {key!r} is not a lora_down/lora_up/alpha/diff/diff_b/diff_m entry")
        module = match["module"]
        if match["diff"]:
            deltas.append(_Delta(key, f"{module}.{_DIFF_TARGET[match['diff']]}", value))
            continue
        entry = modules.setdefault(module, _ModuleLora(module))
        entry.add(key, value, "alpha" if match["alpha"] else "a" if match["part"] in ("lora_down", "lora_A") else "b")
    for entry in modules.values():
        if entry.weight_a is None or entry.weight_b is None:
            present = entry.key_a or entry.key_b or f"{entry.wan_name}.alpha"
            raise LoraError(f"LoRA key {present!r} has no matching {'up' if entry.weight_a is not None else 'down'} "
                            "weight")
        if entry.weight_a.ndim != 2 or entry.weight_b.ndim != 2 or entry.weight_a.shape[0] != entry.weight_b.shape[1]:
            raise LoraError(f"LoRA keys {entry.key_a!r} / {entry.key_b!r}: shapes {tuple(entry.weight_a.shape)} / "
                            f"{tuple(entry.weight_b.shape)} are not a Linear LoRA pair")
    if not modules and not deltas:
        raise LoraError("the distill LoRA state dict is empty")
    return modules, deltas


def _find_parameter(transformer: Any, name: str) -> torch.nn.Parameter | None:
    """The parameter ``name`` names, looking through peft's wrapper (``to_q.weight`` -> ``to_q.base_layer.weight``)."""
    path, _, attr = name.rpartition(".")
    try:
        module = transformer.get_submodule(path) if path else transformer
    except AttributeError:
        return None
    module = getattr(module, "base_layer", module)
    param = getattr(module, attr, None)
    import torch

    return param if isinstance(param, torch.nn.Parameter) else None


def _has_module(transformer: Any, name: str) -> bool:
    try:
        transformer.get_submodule(name)
        return True
    except AttributeError:
        return False


def load_distill_lora(
    transformer: Any,
    state_dict_or_path: Mapping[str, Any] | str | os.PathLike[str],
    strength: float = 1.0,
    dtype: torch.dtype | None = None,
) -> DistillState:
    """Load a lightx2v distilled LoRA into a diffusers WanTransformer3DModel as adapter ``distill``.

    The StoryMem adapter (if any) stays active beside it; ``set_distill_active`` switches the distill adapter
    (its LoRA layers and its full deltas) on and off. ``dtype``: the compute dtype of the expert (the LoRA
    weights' dtype even when the expert is stored in fp8). Raises LoraError naming the key when a key maps to
    nothing, does not fit its target, or does not land.
    """
    import torch

    path: Path | None = None
    if isinstance(state_dict_or_path, Mapping):
        state_dict = dict(state_dict_or_path)
    else:
        path = Path(state_dict_or_path)
        state_dict, _metadata = _read_lora_file(path)
    if DISTILL_ADAPTER in (getattr(transformer, "peft_config", None) or {}):
        raise LoraError(f"the transformer already has an adapter named {DISTILL_ADAPTER!r}")
    modules, deltas = _split_distill_state(state_dict)

    skipped: list[str] = []
    entries: list[_ModuleLora] = []
    for entry in modules.values():
        entry.diffusers_name = _wan_to_diffusers_param(f"{entry.wan_name}.weight").removesuffix(".weight")
        if not _has_module(transformer, entry.diffusers_name) and _IMAGE_ATTENTION_RE.search(entry.wan_name):
            skipped += [k for k in (entry.key_a, entry.key_b) if k]
            continue
        _check_target(transformer, entry)
        entries.append(entry)
    applied: list[_Delta] = []
    for delta in deltas:
        delta.name = _wan_to_diffusers_param(delta.name)
        param = _find_parameter(transformer, delta.name)
        if param is None:
            if _IMAGE_ATTENTION_RE.search(_strip_wan_prefix(delta.key).rpartition(".")[0]):
                skipped.append(delta.key)
                continue
            raise LoraError(f"distill LoRA key {delta.key!r} maps to {delta.name!r}, which the transformer lacks")
        if param.numel() != delta.delta.numel():
            raise LoraError(f"distill LoRA key {delta.key!r} has shape {tuple(delta.delta.shape)}, but {delta.name!r} "
                            f"is {tuple(param.shape)}")
        applied.append(delta)
    if not entries and not applied:
        raise LoraError("no key of the distill LoRA fits this transformer")

    if entries:
        _load_adapter(transformer, entries, DISTILL_ADAPTER, use_rslora=False, strength=float(strength), dtype=dtype)
    try:
        with torch.no_grad():
            for delta in applied:
                param = _find_parameter(transformer, delta.name)
                assert param is not None
                delta.original = param.detach().to("cpu", copy=True)
                change = float(strength) * delta.delta.float().reshape(param.shape)
                largest = float(change.abs().max()) if change.numel() else 0.0
                if not largest <= MAX_WEIGHT_CHANGE:
                    raise LoraError(f"distill LoRA key {delta.key!r} would change {delta.name!r} by up to "
                                    f"{largest:.3g}; the file is damaged, download it again")
                patched = delta.original.float() + change
                delta.patched = patched.to(param.dtype)
                if delta.patched.is_floating_point() and not bool(torch.isfinite(delta.patched.float()).all()):
                    raise LoraError(f"distill LoRA key {delta.key!r} makes {delta.name!r} non-finite")
                param.data.copy_(delta.patched)
                delta.delta = torch.empty(0)  # the patched copy is what is kept
    except Exception:
        for delta in applied:
            param = _find_parameter(transformer, delta.name)
            if delta.original is not None and param is not None:
                param.data.copy_(delta.original)
        _remove_adapter(transformer, DISTILL_ADAPTER)
        raise
    state = DistillState(path, sorted((e.diffusers_name for e in entries), key=_module_sort_key), applied, skipped,
                         float(strength))
    transformer._storymem_distill = state
    return state


def distill_state(transformer: Any) -> DistillState | None:
    return getattr(transformer, "_storymem_distill", None)


def set_distill_active(transformer: Any, active: bool) -> None:
    """Switch the distill adapter of one expert on (draft) or off (final: the expert as it was before it loaded).

    Off restores the exact original parameters and leaves only the other adapters (StoryMem's) active; with no
    other adapter, peft's layers are bypassed altogether, so a final render computes what it did before.
    """
    from peft.tuners.tuners_utils import BaseTunerLayer

    state = distill_state(transformer)
    if state is None:
        if active:
            raise LoraError("the distill LoRA is not loaded into this transformer")
        return
    names = [n for n in (getattr(transformer, "peft_config", None) or {}) if n != DISTILL_ADAPTER]
    if active and state.lora_modules:
        names.append(DISTILL_ADAPTER)
    for module in transformer.modules():
        if isinstance(module, BaseTunerLayer):
            module.enable_adapters(bool(names))
            if names:
                module.set_adapter(names, inference_mode=True)
    import torch

    with torch.no_grad():
        for delta in state.deltas:
            param = _find_parameter(transformer, delta.name)
            source = delta.patched if active else delta.original
            if param is None or source is None:
                raise LoraError(f"distill delta {delta.key!r}: parameter {delta.name!r} is gone")
            param.data.copy_(source)
    state.active = active


def unload_distill(transformer: Any) -> None:
    """Take the distill adapter out again: original parameters back, its LoRA layers removed."""
    state = distill_state(transformer)
    if state is None:
        return
    set_distill_active(transformer, False)
    _remove_adapter(transformer, DISTILL_ADAPTER)
    del transformer._storymem_distill
