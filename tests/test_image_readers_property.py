"""Property tests of the image readers: a cast reference the user adds (checked once, then read by the engine at every
shot) and a take's keyframe or clip on disk (take_files.unreadable, which decides that a render makes a shot again).
Any file is either accepted and then really reads as an RGB picture, or refused with a message naming it; never an
exception the app does not expect."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from storymem_engine.director import load_image
from storymem_engine.reference_images import ReferenceImageError, check_reference_image
from storymem_engine.take_files import unreadable

# (mode, format, save options): what people drop on the Cast tab, the odd ones included.
KINDS = [("RGB", "PNG", {}), ("RGBA", "PNG", {}), ("P", "PNG", {"transparency": 0}), ("L", "JPEG", {}),
         ("RGB", "JPEG", {"progressive": True}), ("CMYK", "JPEG", {}), ("I;16", "PNG", {}), ("RGB", "WEBP", {}),
         ("RGB", "BMP", {}), ("RGB", "TIFF", {}), ("1", "PNG", {}), ("LA", "PNG", {}), ("P", "GIF", {}),
         ("RGB", "GIF", {"save_all": True})]


@st.composite
def image_files(draw) -> tuple[bytes, str]:
    """A real image file (any kind above, small or odd sizes), then maybe cut off, or a few bytes written over."""
    mode, fmt, options = draw(st.sampled_from(KINDS))
    width, height = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    pixels = np.random.default_rng(draw(st.integers(0, 9))).integers(0, 255, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode) if mode != "I;16" else Image.new("I;16", (width, height), 300)
    buffer = io.BytesIO()
    if options.get("save_all"):
        frames = [image, Image.fromarray(255 - pixels)]
        image.save(buffer, fmt, save_all=True, append_images=frames[1:])
    else:
        image.save(buffer, fmt, **options)
    raw = bytearray(buffer.getvalue())
    damage = draw(st.sampled_from(["none", "cut", "overwrite", "garbage"]))
    event(f"{fmt} {mode} {damage}")
    if damage == "cut":
        raw = raw[: draw(st.integers(0, max(len(raw) - 1, 0)))]
    elif damage == "overwrite" and raw:
        for _ in range(draw(st.integers(1, 4))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    elif damage == "garbage":
        raw = bytearray(draw(st.binary(max_size=200)))
    return bytes(raw), fmt.lower()


@contextmanager
def written(file: tuple[bytes, str], stem: str) -> Iterator[Path]:
    raw, suffix = file
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{stem}.{suffix}"
        path.write_bytes(raw)
        yield path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image_files())
def test_any_reference_image_is_accepted_and_reads_as_rgb_or_refused_by_name(file):
    with written(file, "mara") as path:
        try:
            width, height = check_reference_image(path)
        except ReferenceImageError as refused:
            assert str(refused).startswith("mara.")  # names the file the user chose
            return
        picture = load_image(path)  # what every shot with this member does
        assert picture.shape == (height, width, 3) and picture.dtype == np.uint8
        assert unreadable(path) == ""


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image_files())
def test_a_keyframe_that_take_files_calls_readable_loads_for_the_next_shot(file):
    with written(file, "keyframe_0") as path:
        problem = unreadable(path)
        assert isinstance(problem, str)
        if not problem:
            assert load_image(path).ndim == 3  # a render keeps this take only if its memory can be read
