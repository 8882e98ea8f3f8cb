from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from storymem_engine.atomic import FILE_MODE
from storymem_engine.video import (
    VideoCancelled,
    VideoError,
    concat_videos,
    probe_video,
    read_video,
    write_video,
)


def _frames(count: int, width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    """Smooth moving gradients: realistic for a codec, so a lossy round trip stays close."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(0, 255, size=3).astype(np.float32)
    frames = np.empty((count, height, width, 3), dtype=np.uint8)
    for i in range(count):
        for c in range(3):
            value = base[c] + 90 * np.sin((xs + 3 * i) / (9.0 + 4 * c)) + 60 * np.cos((ys - 2 * i) / 11.0)
            frames[i, :, :, c] = np.clip(value, 0, 255).astype(np.uint8)
    return frames


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_write_read_probe_round_trip(tmp_path: Path) -> None:
    frames = _frames(49)
    out = tmp_path / "shot.mp4"
    seen: list[int] = []
    assert write_video(out, frames, fps=16, progress=seen.append) == 49
    assert seen == list(range(1, 50))

    decoded = read_video(out)
    assert decoded.shape == (49, 48, 64, 3)
    assert decoded.dtype == np.uint8
    diff = np.abs(decoded.astype(np.int16) - frames.astype(np.int16)).mean()
    assert diff < 6.0, diff

    info = probe_video(out)
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert info.frames == 49
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(16.0)
    assert info.faststart is True
    assert info.profile  # libx264 with yuv420p picks High
    assert _leftovers(tmp_path) == []
    # Readable by others as any saved file is (a shared folder, a film handed on), not the temp file's 0600.
    assert out.stat().st_mode & 0o777 == FILE_MODE


def test_write_accepts_a_generator_of_frames(tmp_path: Path) -> None:
    frames = _frames(5)
    out = tmp_path / "gen.mp4"
    assert write_video(out, (f for f in frames)) == 5
    assert read_video(out).shape[0] == 5


def test_concat_three_clips(tmp_path: Path) -> None:
    clips = []
    for i, count in enumerate((9, 8, 4)):
        clip = tmp_path / f"clip{i}.mp4"
        write_video(clip, _frames(count, seed=i))
        clips.append(clip)
    film = tmp_path / "film.mp4"
    seen: list[int] = []
    assert concat_videos(clips, film, progress=seen.append) == 21
    assert seen[-1] == 21
    info = probe_video(film)
    assert info.frames == 21
    assert info.faststart
    assert read_video(film).shape == (21, 48, 64, 3)


def test_concat_passes_the_chosen_clips_frames_through_their_transform(tmp_path: Path) -> None:
    clips = []
    for i in range(3):
        clip = tmp_path / f"clip{i}.mp4"
        write_video(clip, _frames(4, seed=i))
        clips.append(clip)

    def white_corner(frame: np.ndarray) -> np.ndarray:
        out = frame.copy()
        out[:16, :16] = 255
        return out

    plain, marked = tmp_path / "plain.mp4", tmp_path / "marked.mp4"
    assert concat_videos(clips, plain) == 12
    assert concat_videos(clips, marked, transforms=[None, white_corner, None]) == 12
    a, b = read_video(plain).astype(int), read_video(marked).astype(int)
    assert (b[4:8, 2:14, 2:14] > 240).all()  # the second clip's frames, white in the corner
    changed = [np.abs(a[i, :16, :16] - b[i, :16, :16]).mean() for i in range(12)]
    assert min(changed[4:8]) > 20 and max(changed[:4] + changed[8:]) < 2  # and only those
    assert np.abs(a[:, 24:] - b[:, 24:]).mean() < 2  # the rest of the picture is the clips'
    with pytest.raises(ValueError, match="2 frame transforms for 3 clips"):
        concat_videos(clips, tmp_path / "x.mp4", transforms=[None, None])


def test_concat_rejects_mismatched_sizes(tmp_path: Path) -> None:
    a = tmp_path / "a.mp4"
    b = tmp_path / "b_wide.mp4"
    write_video(a, _frames(3))
    write_video(b, _frames(3, width=80))
    with pytest.raises(VideoError, match="b_wide.mp4"):
        concat_videos([a, b], tmp_path / "film.mp4")
    assert not (tmp_path / "film.mp4").exists()
    assert _leftovers(tmp_path) == []


def test_odd_size_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="63x48"):
        write_video(tmp_path / "odd.mp4", _frames(3, width=63))
    assert list(tmp_path.iterdir()) == []


def test_mismatched_frame_and_bad_dtype(tmp_path: Path) -> None:
    frames = list(_frames(3))
    frames.append(_frames(1, width=32)[0])
    with pytest.raises(VideoError, match="frame 3"):
        write_video(tmp_path / "x.mp4", frames)
    with pytest.raises(VideoError, match="uint8"):
        write_video(tmp_path / "y.mp4", _frames(2).astype(np.float32))
    assert list(tmp_path.iterdir()) == []


def test_cancel_midway_keeps_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "shot.mp4"
    write_video(out, _frames(4, seed=5))
    before = out.read_bytes()

    done: list[int] = []
    with pytest.raises(VideoCancelled):
        write_video(out, _frames(20), progress=done.append, cancel=lambda: len(done) >= 10)
    assert done[-1] == 10
    assert out.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_error_from_frame_source_keeps_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "shot.mp4"
    write_video(out, _frames(4))
    before = out.read_bytes()

    def broken():
        yield from _frames(3)
        raise RuntimeError("renderer died")

    with pytest.raises(RuntimeError, match="renderer died"):
        write_video(out, broken())
    assert out.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(VideoError, match="nope.mp4"):
        read_video(missing)
    with pytest.raises(VideoError, match="nope.mp4"):
        probe_video(missing)
    corrupt = tmp_path / "junk.mp4"
    corrupt.write_bytes(b"\x00\x01not a video at all" * 50)
    with pytest.raises(VideoError, match="junk.mp4"):
        read_video(corrupt)
    with pytest.raises(VideoError, match="nope.mp4"):
        concat_videos([missing], tmp_path / "film.mp4")
