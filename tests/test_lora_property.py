"""Property tests of the LoRA file reader: any .pth or .safetensors a user drops into the models folder (the StoryMem
pair, the distilled draft pair) either loads and the expert still runs to finite output, or is refused with a
LoraError that names what is wrong; never another exception (a traceback in the engine process)."""

from __future__ import annotations

import io
import math
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from safetensors.torch import save as save_safetensors  # noqa: E402
from test_lora import TARGETS, forward, storymem_lora, tiny_transformer  # noqa: E402

from storymem_engine.lora import LoraError, load_distill_lora, load_storymem_lora  # noqa: E402
from storymem_engine.tiny import distill_lora_state  # noqa: E402

STYLES = ["lightx2v", "kijai"]

_BASE = tiny_transformer()

KEY_PARTS = ["base_model.model.", "diffusion_model.", "", "blocks.0.", "blocks.1.", "blocks.7.", "blocks.x.",
             "self_attn.q", "cross_attn.o", "ffn.0", "ffn.2", "ffn.1", "norm3", "head.head", "patch_embedding",
             ".lora_A.weight", ".lora_B.weight", ".lora_down.weight", ".lora_up.weight", ".alpha", ".diff",
             ".diff_b", ".weight"]


@st.composite
def tensors(draw) -> torch.Tensor:
    """A tensor of a shape that may or may not fit: ranks 0..3, small sizes, odd dtypes, NaN or inf."""
    shape = tuple(draw(st.lists(st.sampled_from([0, 1, 2, 3, 24, 32]), max_size=3)))
    dtype = draw(st.sampled_from([torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.bool]))
    value = torch.zeros(shape, dtype=torch.float32)
    if value.numel():
        value = value + draw(st.sampled_from([0.0, 0.01, -3.0, 1e30, math.nan, math.inf]))
    return value.to(dtype)


@st.composite
def lora_dicts(draw, distill: bool) -> dict:
    """A valid LoRA (StoryMem's, or lightx2v's distilled one with its full deltas) with up to four edits: keys
    dropped, renamed or made up, tensors reshaped or retyped, alpha entries of any shape and value, values that
    are not tensors."""
    rank, seed = draw(st.sampled_from([1, 2, 4])), draw(st.integers(0, 3))
    state: dict = (distill_lora_state(36, seed, text_dim=32, rank=rank, style=draw(st.sampled_from(STYLES)))
                   if distill else storymem_lora(rank, seed=seed))
    for _ in range(draw(st.integers(0, 4))):
        keys = sorted(state)
        edit = draw(st.sampled_from(["drop", "rename", "retensor", "alpha", "made_up", "not_tensor"]))
        key = draw(st.sampled_from(keys)) if keys else "base_model.model.blocks.0.ffn.0.lora_A.weight"
        if edit == "drop":
            state.pop(key, None)
        elif edit == "rename":
            state[draw(st.sampled_from(KEY_PARTS)) + key.split(".", draw(st.integers(0, 4)))[-1]] = state.pop(key)
        elif edit == "retensor":
            state[key] = draw(tensors())
        elif edit == "alpha":
            module = key.rsplit(".lora_", 1)[0]
            state[f"{module}.alpha"] = draw(tensors())
        elif edit == "made_up":
            state["".join(draw(st.lists(st.sampled_from(KEY_PARTS), min_size=1, max_size=4)))] = draw(tensors())
        else:
            state[key] = draw(st.sampled_from([0, "text", [1, 2], {"a": 1}, None]))
    return state


def _file(state: dict, kind: str, metadata: dict[str, str] | None, cut: float | None) -> bytes:
    buffer = io.BytesIO()
    if kind == "pth":
        torch.save(state, buffer)
        raw = buffer.getvalue()
    else:
        tensors_only = {k: v.contiguous() for k, v in state.items() if isinstance(k, str) and torch.is_tensor(v)}
        raw = save_safetensors(tensors_only, metadata=metadata)
    return raw[: int(len(raw) * cut)] if cut is not None else raw


metadata_values = st.one_of(st.none(), st.dictionaries(
    st.sampled_from(["lora_alpha", "use_rslora", "lora_adapter_metadata", "alpha", "other"]),
    st.sampled_from(["4", "0", "-1", "nan", "inf", "true", "false", "wide", "{", '{"lora_alpha": 2}',
                     '{"lora_alpha": "x"}', '[1]', '"text"', "1e400"]), max_size=3))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), kind=st.sampled_from(["pth", "safetensors"]), metadata=metadata_values,
       cut=st.one_of(st.none(), st.floats(0.0, 0.99)), distill=st.booleans())
def test_any_lora_file_loads_onto_the_expert_or_is_refused_by_name(tmp_path_factory, data, kind, metadata, cut,
                                                                   distill):
    import copy

    state = data.draw(lora_dicts(distill))
    path = tmp_path_factory.mktemp("lora") / f"backbone_high_noise.{kind}"
    path.write_bytes(_file(state, kind, metadata, cut))
    expert = copy.deepcopy(_BASE)
    try:
        if distill:
            load_distill_lora(expert, path)
        else:
            load_storymem_lora(expert, path)
    except LoraError as refused:
        assert str(refused)  # a message, shown as it is
        return
    # Loaded: the expert still runs, to finite output unless the file's own weights were not finite (refused above).
    assert torch.isfinite(forward(expert)).all()


def test_the_strategy_reaches_both_outcomes():
    """The edits above are near enough to valid that some files load: a property that only ever saw refusals
    would not test the loader."""
    import copy

    loaded = refused = 0
    for seed in range(12):
        state = storymem_lora(2, seed=seed % 4)
        if seed % 3:
            state.pop(sorted(state)[seed])
        try:
            load_storymem_lora(copy.deepcopy(_BASE), state)
            loaded += 1
        except LoraError:
            refused += 1
    assert loaded and refused and len(TARGETS) == 10
