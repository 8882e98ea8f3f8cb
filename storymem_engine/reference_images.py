"""The user's reference images: checked before they join a cast, copied into the project, exported for the
authors' MR2V run and read back.

The authors' pipeline (``--m2v_first_shot``) takes the references from its output folder as
``00_00_keyframe0.jpg`` ... ``00_00_keyframeN.jpg``, sorted ahead of every shot's keyframes; a story script
exported here gets that folder beside it (``<script stem>/``), so the official run can use it as
``--output_dir``, and an import reads it back.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from storymem_engine.cast import REFERENCES_DIR, CastImage, CastMember, attached_rows, new_id
from storymem_engine.take_files import why_unreadable

MAX_REFERENCE_BYTES = 50 * 2**20
MAX_REFERENCE_SIDE = 8192
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
OFFICIAL_NAME = "00_00_keyframe{}.jpg"
_OFFICIAL_RE = re.compile(r"00_00_keyframe(\d+)\.jpg")


class ReferenceImageError(ValueError):
    """A file that cannot be a reference image; the message names it and says why."""


def check_reference_image(path: Path) -> tuple[int, int]:
    """(width, height) of a usable reference image, else ReferenceImageError saying what is wrong."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ReferenceImageError(f"{name}: not a file")
    size = path.stat().st_size
    if size == 0:
        raise ReferenceImageError(f"{name}: an empty file (0 bytes)")
    if size > MAX_REFERENCE_BYTES:
        raise ReferenceImageError(f"{name}: {size / 2**20:.0f} MB is too large for a reference image "
                                  f"(at most {MAX_REFERENCE_BYTES // 2**20} MB)")
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width > MAX_REFERENCE_SIDE or height > MAX_REFERENCE_SIDE:
                raise ReferenceImageError(f"{name}: {width}x{height} pixels is too large (at most "
                                          f"{MAX_REFERENCE_SIDE} per side); scale it down first")
            if getattr(image, "n_frames", 1) > 1:
                raise ReferenceImageError(f"{name}: an animated image ({image.n_frames} frames); use a still image")
            if image.mode == "CMYK":
                raise ReferenceImageError(f"{name}: a CMYK image (print colours); save it as RGB first")
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F") or "16" in image.mode:
                raise ReferenceImageError(f"{name}: a 16-bit image ({image.mode}); save it as 8-bit RGB first")
            image.load()  # a truncated file fails here, not in the middle of a generation
    except ReferenceImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ReferenceImageError(f"{name}: not an image this app can read (PNG, JPEG, WebP or BMP)") from None
    except Exception as exc:  # noqa: BLE001 - PIL's decoders raise IndexError, EOFError, struct.error on damage
        raise ReferenceImageError(f"{name}: cannot be read ({why_unreadable(exc)})") from None
    return width, height


def copy_into_project(folder: Path, member: CastMember, source: Path) -> CastImage:
    """Check ``source`` and copy it to ``references/<member id>/<image id><suffix>`` in the project folder."""
    check_reference_image(source)
    suffix = source.suffix.lower() if source.suffix.lower() in IMAGE_SUFFIXES else ".png"
    image_id = new_id()
    relative = f"{REFERENCES_DIR}/{member.id}/{image_id}{suffix}"
    target = Path(folder) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    upright = _as_seen(source)
    if upright is None:
        shutil.copyfile(source, target)
        return CastImage(id=image_id, path=relative)
    relative = f"{REFERENCES_DIR}/{member.id}/{image_id}.png"
    upright.save(Path(folder) / relative)
    return CastImage(id=image_id, path=relative)


def _as_seen(source: Path):
    """The picture as a viewer shows it, where its bytes alone would be used otherwise (None: copy the file): a
    phone photo's EXIF rotation applied (every reader here takes pixels as stored, so a portrait came out sideways),
    a cut-out's transparent parts white (dropping the alpha left them black, often the whole background)."""
    from PIL import Image, ImageOps

    with Image.open(source) as image:
        rotated = image.getexif().get(0x0112, 1) not in (1, None)
        transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        if not rotated and not transparent:
            return None
        picture = ImageOps.exif_transpose(image) if rotated else image.copy()
    if transparent:
        rgba = picture.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return picture.convert("RGB")


def export_official_references(project, script_path: Path) -> list[Path]:
    """Write the references of the cast attached to the first shot as the authors' MR2V run reads them:
    ``<script stem>/00_00_keyframe<n>.jpg`` beside the script. Returns the files written (none without)."""
    from PIL import Image

    story = project.story
    images = [image for member in story.cast if 0 in attached_rows(story, member) for image in member.images]
    if not images:
        return []
    folder = Path(script_path).with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("00_00_keyframe*.jpg"):
        old.unlink()  # a previous export's extra images would join this one's memory
    written = []
    for n, image in enumerate(images):
        target = folder / OFFICIAL_NAME.format(n)
        with Image.open(project.resolve(image.path)) as source:
            source.convert("RGB").save(target, quality=95)
        written.append(target)
    return written


def official_references(script_path: Path) -> list[Path]:
    """The ``00_00_keyframe<n>.jpg`` files beside a story script (its MR2V references), in the order the
    authors' run takes them (sorted by name, as its glob is)."""
    folder = Path(script_path).with_suffix("")
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if _OFFICIAL_RE.fullmatch(p.name) and p.is_file()),
                  key=lambda p: p.name)
